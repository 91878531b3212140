"""The data package report page: found, missing, disagreeing; uploaded by an admin."""

import io
import zipfile

from conftest import PEPPER

from station import people
from station.demo import data_package


def without(zip_bytes: bytes, suffix: str) -> bytes:
    """The same Gerber zip with the files ending in `suffix` left out."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            if not name.endswith(suffix):
                dst.writestr(name, src.read(name))
    return out.getvalue()


def upload(client, gerber: bytes, bom: bytes, cpl: bytes):
    return client.post("/products/PCB/A/data-package", content_type="multipart/form-data",
                       data={"gerber": (io.BytesIO(gerber), "g.zip"),
                             "bom": (io.BytesIO(bom), "bom.csv"),
                             "centroid": (io.BytesIO(cpl), "cpl.csv")})


def test_admin_uploads_and_the_report_says_what_is_missing_and_disagrees(client, line):
    client.post("/login", data={"name": "admin", "password": "admin-pw"})
    pkg = data_package()
    bom = pkg["bom"] + b"R9,1k,R_0603,1\n"  # a part the centroid does not place
    r = upload(client, without(pkg["gerber"], ".gbs"), bom, pkg["centroid"])
    assert r.status_code == 302
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'data-ready="false"' in html
    assert "soldermask: missing" in html and "MISSING_LAYER" in html
    assert "In the BOM only" in html and "R9" in html and "DESIGNATOR_MISMATCH" in html
    r = upload(client, pkg["gerber"], pkg["bom"], pkg["centroid"])
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'data-ready="true"' in html and "SMT top <strong>2</strong>" in html


def test_a_corrupt_zip_is_a_problem_in_the_report_and_an_operator_cannot_upload(client, line):
    client.post("/login", data={"name": "admin", "password": "admin-pw"})
    pkg = data_package()
    r = upload(client, pkg["gerber"][: len(pkg["gerber"]) // 2], pkg["bom"], pkg["centroid"])
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'data-ready="false"' in html and "ZIP" in html
    client.post("/logout")
    client.post("/login", data={"badge": "10001", "pin": "1234"})
    assert upload(client, pkg["gerber"], pkg["bom"], pkg["centroid"]).status_code == 403
    assert client.get("/products/PCB/A/data-package").status_code == 200


def test_a_stored_problem_is_said_in_the_readers_language(app, client, session, line):
    client.post("/login", data={"name": "admin", "password": "admin-pw"})
    pkg = data_package()
    upload(client, without(pkg["gerber"], ".gbs"), b"", pkg["centroid"])
    english = client.get("/products/PCB/A/data-package").get_data(as_text=True)
    assert "The BOM file bom.csv is empty." in english
    assert ("No soldermask layer in the Gerber zip: add a solder-mask Gerber (-F_Mask, .GTS, "
            ".stc).") in english
    people.create_user(session, "wang", "operator", pepper=PEPPER, badge="20001", pin="1234",
                       language="zh_CN")
    session.commit()
    chinese = app.test_client()
    chinese.post("/login", data={"badge": "20001", "pin": "1234"})
    html = chinese.get("/products/PCB/A/data-package").get_data(as_text=True)
    assert "BOM 文件 bom.csv 为空。" in html and "The BOM file" not in html
    assert "Gerber 压缩包中没有阻焊层：请加入阻焊层 Gerber 文件（-F_Mask、.GTS、.stc）。" in html
    # The order's readiness screen names the package's errors from the same stored texts.
    html = chinese.get(f"/orders/{line.order}/readiness").get_data(as_text=True)
    assert "工程资料包有问题：" in html and "BOM 文件 bom.csv 为空。" in html
