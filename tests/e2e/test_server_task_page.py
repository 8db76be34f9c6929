"""tasks.get_all / get_all_ex paged by an indexed column (the web app's Experiments table) take a
fast path that reads only the documents the page needs; every page must equal the same slice of
the general answer (all documents filtered and stably sorted), ties and filters included."""
import pytest


@pytest.fixture
def tasks(api):
    pid = api.call("projects.create", name="paging", description="")["id"]
    ids = []
    for i in range(37):
        body = dict(name=f"task {i % 7:02d}", type="training" if i % 3 else "testing",
                    tags=["even"] if i % 2 == 0 else [])
        if i % 4 == 0:
            body["project"] = pid
        ids.append(api.call("tasks.create", **body)["id"])
    for t in ids[:5]:
        api.call("tasks.archive", tasks=[t])
    api.call("tasks.edit", task=ids[10], name="renamed late")
    return pid, ids


@pytest.mark.parametrize("order", [["-last_update", "-id"], ["name"], ["-name"], ["created"],
                                   ["status", "id"], ["-created", "id"]])
@pytest.mark.parametrize("filters", [{}, {"system_tags": ["-archived"]}, {"type": ["testing"]},
                                     {"tags": ["even"], "search_text": "task 0"}, "project"])
def test_pages_equal_slices_of_the_general_answer(api, tasks, order, filters):
    pid, _ = tasks
    body = {"project": [pid]} if filters == "project" else dict(filters)
    body["only_fields"] = ["id", "name", "last_update"]
    body["order_by"] = order
    full = [t["id"] for t in api.call("tasks.get_all_ex", **body)["tasks"]]
    assert full
    for size in (1, 5, 50):
        pages = []
        for page in range(0, len(full) // size + 2):
            got = api.call("tasks.get_all_ex", page=page, page_size=size, **body)["tasks"]
            pages.extend(t["id"] for t in got)
        assert pages == full, (order, filters, size)
