"""Users, segments, audience previews and templates over HTTP against a real hub."""

from __future__ import annotations

from tests.support.hub_server import ThreadHub


def test_users_round_trip_and_erasure(hub: ThreadHub) -> None:
    with hub.client(hub.admin_key) as http:
        made = http.put(
            "/v1/users/u-1", json={"locale": "de", "plan": "pro", "custom": {"age": 30}, "topics": ["news"]}
        )
        assert made.status_code == 201, made.text
        again = http.put("/v1/users/u-1", json={"timezone": "Europe/Berlin", "custom": {"age": 31}})
        assert again.status_code == 200
        user = http.get("/v1/users/u-1").json()
        assert user["plan"] is None and user["timezone"] == "Europe/Berlin" and user["topics"] == ["news"]
        assert user["custom"] == {"age": 31} and user["effective"] == {
            "locale": None,
            "timezone": "Europe/Berlin",
        }
        bad = http.put("/v1/users/u-1", json={"timezone": "Mars/Olympus"})
        assert bad.status_code == 422 and "timezone" in bad.json()["error"]["message"]
        assert http.delete("/v1/users/u-1").json() == {"id": "u-1", "devices_removed": 0}
        assert http.get("/v1/users/u-1").status_code == 404
    with hub.client(hub.read_key) as http:
        assert http.put("/v1/users/u-2", json={}).status_code == 403


def test_segments_check_their_filter_and_preview_counts(hub: ThreadHub) -> None:
    with hub.client(hub.admin_key) as http:
        for n in range(5):
            http.put(f"/v1/users/u{n}", json={"plan": "pro" if n % 2 else "free", "country": "DE"})
        bad = http.put("/v1/segments/pro", json={"filter": 'plan = "pro" and'})
        assert bad.status_code == 422
        assert bad.json()["error"] == {
            "code": "invalid_filter",
            "message": "filter: column 17: expected a field name, 'not' or '(', found the end of the filter",
        }
        assert http.put("/v1/segments/pro", json={"filter": 'plan = "pro"'}).status_code == 201
        preview = http.post("/v1/audiences/preview", json={"segment": "pro", "sample": 1})
        assert preview.json() == {"users": 2, "devices": 0, "sample": ["u1"]}
        both = http.post("/v1/audiences/preview", json={"segment": "pro", "users": ["u1", "u2"]})
        assert both.json()["users"] == 1
        unknown = http.post("/v1/audiences/preview", json={"segment": "nope"})
        assert unknown.status_code == 422
        assert [s["name"] for s in http.get("/v1/segments").json()["segments"]] == ["pro"]
        assert http.delete("/v1/segments/pro").status_code == 204


def test_templates_are_syntax_checked_and_preview_for_a_user(hub: ThreadHub) -> None:
    with hub.client(hub.admin_key) as http:
        broken = http.put(
            "/v1/templates/t", json={"locales": {"en": {"title": "Hi", "body": "a\n{{ user.id "}}}
        )
        assert broken.status_code == 422
        assert broken.json()["error"]["code"] == "template_syntax"
        assert broken.json()["error"]["message"].startswith("locales.en.body: line 2:")
        body = {
            "default_locale": "en",
            "locales": {
                "en": {
                    "title": "Hi {{ user.custom.name | default('there') }}",
                    "body": "Order {{ data.order }}",
                },
                "de": {"title": "Hallo {{ user.custom.name }}", "body": "Bestellung {{ data.order }}"},
            },
        }
        assert http.put("/v1/templates/shipped", json=body).status_code == 201
        http.put("/v1/users/anna", json={"locale": "de-AT", "custom": {"name": "Anna"}})
        shown = http.post("/v1/templates/shipped/preview", json={"user_id": "anna", "data": {"order": "A-1"}})
        assert shown.json() == {
            "locale": "de",
            "title": "Hallo Anna",
            "body": "Bestellung A-1",
            "link": None,
            "image": None,
        }
        anonymous = http.post("/v1/templates/shipped/preview", json={"data": {"order": "A-2"}})
        assert anonymous.json()["title"] == "Hi there"
        missing = http.post("/v1/templates/shipped/preview", json={})
        assert missing.status_code == 422 and missing.json()["error"]["code"] == "render_error"
        assert (
            "en.body" in missing.json()["error"]["message"] and "order" in missing.json()["error"]["message"]
        )
        hostile = http.put("/v1/templates/big", json={"locales": {"en": {"title": "{{ 'x' * 10000000 }}"}}})
        assert hostile.status_code == 201
        refused = http.post("/v1/templates/big/preview", json={})
        assert refused.status_code == 422 and "SecurityError" in refused.json()["error"]["message"]
        looping = {"locales": {"en": {"title": "{% for i in range(99999) %}{% endfor %}x"}}}
        assert http.put("/v1/templates/loops", json=looping).status_code == 201
        costly = http.post("/v1/templates/loops/preview", json={})
        assert costly.status_code == 422 and costly.json()["error"]["code"] == "render_error"
        # the step budget, or on a very loaded machine the render's deadline, whichever comes first
        assert costly.json()["error"]["message"].startswith("en.title: SecurityError: the template ")
