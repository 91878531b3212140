"""The oven's profilers: one device per [[profilers]] entry, each finished run stored and judged."""

from sqlmodel import Session

from station.devices.profiler_reader import ProfilerDevice
from station.errors import InvalidInput
from station.readiness import profiles


def run_store(engine, windows: dict, source: str, slope_window_s: float | None):
    """What a device calls with a finished recording and its metadata: the stored run."""
    def store(text: str, meta: dict):
        if not meta.get("paste"):  # never guess the paste: the window judges the run
            raise InvalidInput(detail="no paste is set for this profiler's next run: choose it "
                                      "on the profiler screen")
        with Session(engine, expire_on_commit=False) as session:
            return profiles.record_run(
                session, None, text, meta["paste"], windows,
                profile_board=meta.get("profile_board") or None, oven=meta.get("oven") or None,
                recipe=meta.get("recipe") or None, source=source, slope_window_s=slope_window_s)
    return store


def start_profilers(app) -> dict[str, ProfilerDevice]:
    """Start a reader for each profiler in config/station.toml; each run is stored as it ends."""
    devices, settings = {}, app.config["SETTINGS"]
    for spec in settings.profilers:
        if not spec.url:
            continue
        store = run_store(app.extensions["engine"], app.extensions["pastes"], spec.name,
                          settings.reflow.slope_window_s)
        defaults = {k: getattr(spec, k) or None for k in ("paste", "profile_board", "oven",
                                                          "recipe")}
        devices[spec.name] = ProfilerDevice(spec.name, spec.url, store, baudrate=spec.baud,
                                            quiet_s=spec.quiet_s, defaults=defaults).start()
    app.extensions["profilers"] = devices
    return devices
