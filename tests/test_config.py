"""Settings: config/station.toml checked once at start, with errors naming file, key and range."""

import pytest
from conftest import reconfigure
from pydantic import ValidationError

from station import config, create_app, paths
from station.config import SettingsError, load_settings, parse


def write(tmp_path, text: str):
    path = tmp_path / "station.toml"
    path.write_text(text)
    return path


def test_the_shipped_configuration_loads_typed():
    settings = load_settings(config.DEFAULT_CONFIG)
    assert settings.security.badge_lock_after == 5 and settings.security.idle_minutes == 30
    assert settings.site.timezone == "Asia/Shanghai"
    assert [s.id for s in settings.stations][0] == "L1-PRINT-1"
    assert settings.scanning.labels[2].format == "iso15434"


def test_missing_sections_take_the_rules_defaults(tmp_path):
    settings = load_settings(write(tmp_path, "[site]\ntimezone = \"UTC\"\n"))
    rules = config.rules_of(settings)
    assert rules.ready.tension_new_Ncm == 35.0 and rules.fct.retest_limit == 2
    assert rules.scan.box_capacity == 10 and rules.state.shift_starts == ["00:00"]


def test_a_wrong_type_names_the_file_and_the_key(tmp_path):
    path = write(tmp_path, "[security]\nbadge_lock_after = \"five\"\n")
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    assert str(err.value) == (f"{path}: [security] badge_lock_after must be a whole number "
                              "from 1 to 100, not 'five'")


def test_an_unknown_key_names_the_file_the_key_and_the_known_ones(tmp_path):
    path = write(tmp_path, "[security]\nbadge_lock = 3\n")
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    assert str(err.value) == (f"{path}: [security] badge_lock is not a setting here; the "
                              "settings are badge_lock_after, idle_minutes")


def test_an_unknown_section_is_refused(tmp_path):
    path = write(tmp_path, "[securty]\nbadge_lock_after = 3\n")
    with pytest.raises(SettingsError, match=r"\[securty\] is not a setting here"):
        load_settings(path)


def test_a_value_out_of_range_names_the_file_the_key_and_the_range(tmp_path):
    path = write(tmp_path, "[readiness]\ntension_points = 0\n\n[security]\nidle_minutes = 0\n")
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    assert str(err.value).splitlines() == [
        f"{path}: [security] idle_minutes must be a number above 0, up to 1440, not 0",
        f"{path}: [readiness] tension_points must be a whole number from 1 to 50, not 0"]


@pytest.mark.parametrize(("table", "message"), [
    ("[[stations]]\nid = \"L1-AOI-1\"\ntype = \"AOI\"\n",
     "[[stations]] #1 line is missing: it must be text, not empty"),
    ("[[printers]]\nname = \"p\"\nhost = \"h\"\ndpmm = 7\n",
     "[[printers]] #1 dpmm must be one of 6, 8, 12, 24, not 7"),
    ("[shifts]\nstarts = [\"6am\"]\n", "[shifts] starts must be local times"),
    ("[site]\ntimezone = \"Mars/Olympus\"\n", "[site] timezone must be an IANA time zone"),
    ("[site]\nlanguage = \"fr\"\n", "[site] language must be one of 'en', 'zh_CN', not 'fr'"),
    ("[scanning]\nallowed = \"(\"\n", "[scanning] allowed must be a regular expression"),
    ("[[scanning.labels]]\nkind = \"board\"\nkey = \"21\"\nformat = \"gs2\"\n",
     "[scanning] labels #1 format must be one of 'gs1', 'iso15434', not 'gs2'"),
    ("[mqtt]\nline_events = \"yes\"\n", "[mqtt] line_events must be true or false, not 'yes'"),
])
def test_each_section_is_checked(tmp_path, table, message):
    path = write(tmp_path, table)
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    assert str(err.value).startswith(f"{path}: {message}")


def test_a_file_inside_the_project_is_named_as_the_project_knows_it():
    with pytest.raises(SettingsError, match=r"^config/station.toml: \[security\]"):
        parse({"security": {"badge_lock_after": 101}}, "config/station.toml")


def test_the_app_refuses_to_start_on_a_bad_file(tmp_path):
    path = write(tmp_path, "[fct]\nretest_limit = 2.5\n")
    with pytest.raises(SettingsError, match=r"\[fct\] retest_limit must be a whole number"):
        create_app({"STATION_CONFIG": str(path), "INSTANCE_PATH": str(tmp_path / "instance"),
                    "DATABASE_URL": f"sqlite:///{tmp_path / 'station.db'}",
                    "SECRET_KEY": "x", "PIN_PEPPER": "y"})


def test_the_environment_overrides_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, "[database]\nurl = \"sqlite:///instance/x.db\"\n"
                           "[mqtt]\nurl = \"mqtt://broker\"\n")
    monkeypatch.setenv("DATABASE_URL", "postgresql://plant/db")
    monkeypatch.setenv("MQTT_URL", "")
    settings = load_settings(path)
    assert settings.database.url == "postgresql://plant/db" and settings.mqtt.url == ""
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("STATION_CONFIG", str(path))
    assert load_settings().database.url == f"sqlite:///{(paths.ROOT / 'instance/x.db').as_posix()}"


def test_the_database_section_keeps_its_settings_beside_the_url(tmp_path, monkeypatch):
    path = write(tmp_path, "[database]\nurl = \"sqlite:///instance/x.db\"\nbusy_timeout_s = 0.5\n"
                           "pool_size = 3\nmax_overflow = 0\n")
    monkeypatch.setenv("DATABASE_URL", "postgresql://plant/db")
    database = load_settings(path).database
    assert (database.url, database.busy_timeout_s) == ("postgresql://plant/db", 0.5)
    assert (database.pool_size, database.max_overflow) == (3, 0)
    with pytest.raises(SettingsError, match=r"\[database\] pool_size must be"):
        load_settings(write(tmp_path, "[database]\npool_size = 0\n"))


def test_settings_are_read_only_and_rules_are_built_once(app, tmp_path):
    settings = app.config["SETTINGS"]
    with pytest.raises(ValidationError):
        settings.security.badge_lock_after = 1
    rules = app.extensions["rules"]
    assert rules.scan.ready_rules is rules.ready and rules.state.ready is rules.ready
    assert rules.ready.profile_validity_hours == settings.reflow.validity_hours


def test_changed_settings_are_checked_again(app):
    reconfigure(app, readiness={"tension_points": 6})
    assert app.extensions["rules"].ready.tension_points == 6
    with pytest.raises(SettingsError, match=r"\[readiness\] tension_points"):
        reconfigure(app, readiness={"tension_points": "six"})
