"""server-lite's files server: the ClearML fileserver protocol as the SDK's storage helper speaks
it (multipart POST whose part is named by the target path, GET/HEAD, DELETE, /delete_many), its
Bearer/cookie authentication, path confinement (no "..", no symlink escape) and the size bound.
Driven with requests the way the SDK sends it, and with a real curl."""
import os
import re
import shutil
import subprocess

import pytest
import requests

from conftest import ServerLite


def files_url(server):
    text = open(server.conf).read()
    return re.search(r'files_server:\s*"([^"]+)"', text).group(1).rstrip("/")


@pytest.fixture
def fs(server):
    api = server.api()
    return files_url(server), {"Authorization": f"Bearer {api.token}"}, api


def sdk_upload(url, headers, path, data, mime="application/octet-stream"):
    """What clearml's _HttpDriver.upload_object_via_stream sends: one multipart part whose field
    name and filename are the object path, POSTed to the files server's base URL."""
    return requests.post(url + "/", files={path: (path, data, mime)}, headers=headers, timeout=30)


def test_conf_names_the_files_server(server):
    url = files_url(server)
    api_url = re.search(r'api_server:\s*"([^"]+)"', open(server.conf).read()).group(1)
    assert url != api_url and url.startswith("http://127.0.0.1:")
    assert requests.get(url + "/", timeout=10).text == "OK"


def test_sdk_upload_download_delete(fs):
    url, auth, _ = fs
    blob = os.urandom(300_000)
    path = "My Project/exp.0123abcd/artifacts/data/data.npz"
    r = sdk_upload(url, auth, path, blob)
    assert r.status_code == 200 and r.json() == [path]
    got = requests.get(url + "/" + requests.utils.quote(path), headers=auth, timeout=30)
    assert got.status_code == 200 and got.content == blob
    assert got.headers["Content-Type"] == "application/octet-stream"
    head = requests.head(url + "/" + requests.utils.quote(path), headers=auth, timeout=30)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(blob)
    dl = requests.get(url + "/" + requests.utils.quote(path) + "?download", headers=auth, timeout=30)
    assert dl.headers["Content-Disposition"] == 'attachment; filename="data.npz"'
    # a second upload to the same path replaces the file
    r = sdk_upload(url, auth, path, b"v2")
    assert r.status_code == 200
    assert requests.get(url + "/" + requests.utils.quote(path), headers=auth).content == b"v2"
    d = requests.delete(url + "/" + requests.utils.quote(path), headers=auth, timeout=30)
    assert d.status_code == 200 and d.json() == path
    assert requests.get(url + "/" + requests.utils.quote(path), headers=auth).status_code == 404
    assert requests.delete(url + "/" + requests.utils.quote(path), headers=auth).status_code == 404


def test_debug_image_and_several_parts(fs):
    url, auth, _ = fs
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(1000)
    r = requests.post(url + "/", headers=auth, timeout=30, files={
        "p/t/metrics/loss/img/loss_img_00000001.png": ("x.png", png, "image/png"),
        "p/t/metrics/loss/img/loss_img_00000002.png": ("y.png", png[::-1], "image/png"),
    })
    assert r.status_code == 200 and len(r.json()) == 2
    got = requests.get(url + "/p/t/metrics/loss/img/loss_img_00000001.png", headers=auth)
    assert got.content == png and got.headers["Content-Type"] == "image/png"
    assert requests.get(url + "/p/t/metrics/loss/img/loss_img_00000002.png",
                        headers=auth).content == png[::-1]


def test_authentication(fs, server):
    url, auth, api = fs
    assert sdk_upload(url, {}, "a/b.txt", b"x").status_code == 401
    assert sdk_upload(url, {"Authorization": "Bearer not-a-token"}, "a/b.txt", b"x").status_code == 401
    assert sdk_upload(url, {"Authorization": "Basic eDp5"}, "a/b.txt", b"x").status_code == 401
    assert sdk_upload(url, auth, "a/b.txt", b"x").status_code == 200
    assert requests.get(url + "/a/b.txt", timeout=10).status_code == 401
    # the web app's cookie works as the token
    assert requests.get(url + "/a/b.txt", cookies={"clearml_token_basic": api.token}).content == b"x"
    # a logged-out token no longer opens it
    api.call("auth.logout")
    assert requests.get(url + "/a/b.txt", headers=auth, timeout=10).status_code == 401
    assert not os.path.exists(os.path.join(server.data_dir, "files", "a", ".upload"))


def test_paths_are_confined(fs, server, tmp_path):
    url, auth, _ = fs
    root = os.path.join(server.data_dir, "files")
    for bad in ["../escape.txt", "a/../../escape.txt", "a/./b.txt", "/", "a//b.txt", "a/b/",
                "a\\..\\b.txt"]:
        r = sdk_upload(url, auth, bad, b"x")
        assert r.status_code in (400, 404), bad
    assert not os.path.exists(os.path.join(server.data_dir, "escape.txt"))
    # ../ in the URL (raw and percent-encoded) never reaches outside the root
    for raw in ["/../clearml.conf", "/%2e%2e/clearml.conf", "/a/%2E%2E/%2E%2E/clearml.conf"]:
        r = subprocess.run(["curl", "-s", "--path-as-is", "-o", "/dev/null", "-w", "%{http_code}",
                            "-H", "Authorization: " + auth["Authorization"], url + raw], capture_output=True, text=True)
        assert r.stdout in ("400", "404"), raw
    # a symlink planted inside the tree is not followed, neither to read nor to write
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    os.makedirs(os.path.join(root, "p"), exist_ok=True)
    os.symlink(str(outside), os.path.join(root, "p", "link"))
    os.symlink(str(outside / "secret.txt"), os.path.join(root, "p", "file-link"))
    assert requests.get(url + "/p/link/secret.txt", headers=auth).status_code == 404
    assert requests.get(url + "/p/file-link", headers=auth).status_code == 404
    assert sdk_upload(url, auth, "p/link/new.txt", b"x").status_code in (400, 404)
    assert sdk_upload(url, auth, "p/file-link", b"x").status_code == 400
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "secret"


def test_size_bound_leaves_nothing(tmp_path):
    s = ServerLite(tmp_path / "srv", extra_args=["--files-max-upload-mb", "1"])
    try:
        api = s.api()
        url, auth = files_url(s), {"Authorization": f"Bearer {api.token}"}
        assert sdk_upload(url, auth, "big/ok.bin", os.urandom(500_000)).status_code == 200
        assert sdk_upload(url, auth, "big/too.bin", os.urandom(2_000_000)).status_code == 413
        # chunked (no Content-Length): cut off while streaming
        body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"big/stream.bin\"; "
                b"filename=\"big/stream.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n")

        def chunks():
            yield body
            for _ in range(30):
                yield os.urandom(100_000)
            yield b"\r\n--XyZ--\r\n"
        r = requests.post(url + "/", data=chunks(), timeout=30, headers={
            **auth, "Content-Type": "multipart/form-data; boundary=XyZ"})
        assert r.status_code == 413
        assert sorted(os.listdir(os.path.join(s.data_dir, "files", "big"))) == ["ok.bin"]
    finally:
        s.stop()


def test_delete_many(fs, server):
    url, auth, _ = fs
    for p in ["d/a/1.txt", "d/a/2.txt", "d/b.txt"]:
        assert sdk_upload(url, auth, p, b"x").status_code == 200
    r = requests.post(url + "/delete_many", headers=auth, timeout=30,
                      json={"files": ["d/a", "d/b.txt", "d/missing", "/", "../x"]})
    assert r.status_code == 200
    body = r.json()
    assert body["deleted"] == {"d/a": "d/a", "d/b.txt": "d/b.txt"}
    assert body["errors"]["Not found"] == ["d/missing", "../x"]
    assert body["errors"]["Empty path not allowed"] == ["/"]
    assert os.listdir(os.path.join(server.data_dir, "files", "d")) == []


@pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed")
def test_with_curl(fs, tmp_path):
    url, auth, _ = fs
    src = tmp_path / "model.bin"
    src.write_bytes(os.urandom(1_000_000))
    up = subprocess.run(["curl", "-s", "-f", "-H", "Authorization: " + auth["Authorization"],
                         "-F", f"models/m1/model.bin=@{src}", url + "/"],
                        capture_output=True, text=True, timeout=60)
    assert up.returncode == 0 and up.stdout == '["models/m1/model.bin"]'
    out = tmp_path / "back.bin"
    down = subprocess.run(["curl", "-s", "-f", "-H", "Authorization: " + auth["Authorization"], "-o", str(out),
                           url + "/models/m1/model.bin"], timeout=60)
    assert down.returncode == 0 and out.read_bytes() == src.read_bytes()
    rm = subprocess.run(["curl", "-s", "-f", "-X", "DELETE", "-H", "Authorization: " + auth["Authorization"],
                         url + "/models/m1/model.bin"], capture_output=True, text=True, timeout=60)
    assert rm.returncode == 0 and rm.stdout == '"models/m1/model.bin"'


def test_files_port_off_and_no_auth(tmp_path):
    s = ServerLite(tmp_path / "off", extra_args=["--files-port", "off"])
    try:
        assert files_url(s) == s.url
    finally:
        s.stop()
    s = ServerLite(tmp_path / "open", extra_args=["--files-no-auth"])
    try:
        url = files_url(s)
        assert sdk_upload(url, {}, "open/x.txt", b"x").status_code == 200
        assert requests.get(url + "/open/x.txt").content == b"x"
    finally:
        s.stop()
