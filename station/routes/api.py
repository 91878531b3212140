"""The JSON API's front door: its OpenAPI document and its answers to unknown paths."""

from functools import wraps

from flask import Blueprint, jsonify, render_template, request

from station.openapi import openapi_document
from station.routes.web import api_user

api = Blueprint("api", __name__, url_prefix="/api/v1")


def endpoint(view):
    """An API view: authenticate the bearer token and hand the view its user."""
    @wraps(view)
    def inner(*args, **kwargs):
        return view(api_user(), *args, **kwargs)
    return inner


@api.get("/openapi.json")
def openapi():
    """The OpenAPI 3 document describing every endpoint."""
    return jsonify(openapi_document())


def not_found(_err):
    """404 as JSON for the API, as a page elsewhere."""
    if request.path.startswith("/api/"):
        return jsonify(error={"code": "NOT_FOUND", "message": "No such endpoint."}), 404
    return render_template("error.html", error={"code": "NOT_FOUND", "message": "Page not found.",
                                                "todo": ""}), 404


def not_allowed(_err):
    """405 as JSON for the API."""
    if request.path.startswith("/api/"):
        return jsonify(error={"code": "METHOD_NOT_ALLOWED",
                              "message": f"{request.method} is not allowed here."}), 405
    return render_template("error.html", error={"code": "METHOD_NOT_ALLOWED",
                                                "message": request.method, "todo": ""}), 405
