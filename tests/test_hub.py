"""ember.hub and ember.utils.model_zoo against torch.hub, over file:// URLs (no network): the cache folder, the
hash check, legacy zips, and hubconf.py entry points from a local folder or a repo in the hub cache."""
import hashlib
import os
import sys
import zipfile

import pytest

import ember


@pytest.fixture
def hub_home(tmp_path, monkeypatch):
    """TORCH_HOME in a temporary folder, no set_dir override, for ember and (if loaded) torch."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.delenv("TORCH_HUB", raising=False)
    monkeypatch.delenv("TORCH_MODEL_ZOO", raising=False)
    monkeypatch.setattr(ember.hub, "_hub_dir", None)
    if "torch" in sys.modules:
        monkeypatch.setattr(sys.modules["torch"].hub, "_hub_dir", None)
    return tmp_path


def _checkpoint(folder, name="weights.pth"):
    path = folder / name
    ember.save({"w": ember.arange(4.0), "b": ember.tensor([1, 2])}, path)
    return path


def test_get_dir_follows_torch_home_then_xdg(hub_home, monkeypatch, torch):
    for m in (ember, torch):
        assert m.hub.get_dir() == str(hub_home / "torch_home" / "hub")
    monkeypatch.delenv("TORCH_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(hub_home / "xdg"))
    for m in (ember, torch):
        assert m.hub.get_dir() == str(hub_home / "xdg" / "torch" / "hub")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert ember.hub.get_dir() == os.path.expanduser(os.path.join("~", ".cache", "torch", "hub"))
    ember.hub.set_dir("~/elsewhere")
    assert ember.hub.get_dir() == os.path.expanduser("~/elsewhere")


def test_load_state_dict_from_url_downloads_once_into_the_shared_cache(hub_home, capsys, torch):
    source = _checkpoint(hub_home)
    url = source.as_uri()
    state = ember.hub.load_state_dict_from_url(url, progress=False)
    assert state["w"].tolist() == [0.0, 1.0, 2.0, 3.0] and state["b"].dtype == ember.int64
    cached = hub_home / "torch_home" / "hub" / "checkpoints" / "weights.pth"
    assert cached.exists()
    assert f'Downloading: "{url}" to {cached}' in capsys.readouterr().out
    source.unlink()                                         # the second call reads the cache only
    assert ember.hub.load_state_dict_from_url(url, progress=False)["w"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert "Downloading" not in capsys.readouterr().out
    # torch.hub finds the same file: one cache for both
    assert torch.hub.load_state_dict_from_url(url, progress=False)["w"].tolist() == [0.0, 1.0, 2.0, 3.0]
    model_dir = hub_home / "mine"
    ember.hub.load_state_dict_from_url(cached.as_uri(), model_dir=str(model_dir), file_name="renamed.pt",
                                       progress=False, weights_only=True, map_location="cpu")
    assert os.listdir(model_dir) == ["renamed.pt"]


def test_check_hash_accepts_the_right_prefix_and_rejects_others(hub_home, torch):
    source = _checkpoint(hub_home)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    good = hub_home / f"model-{digest[:10]}.pth"
    bad = hub_home / "model-0123456789.pth"
    good.write_bytes(source.read_bytes())
    bad.write_bytes(source.read_bytes())
    assert ember.hub.load_state_dict_from_url(good.as_uri(), check_hash=True, progress=False)["w"].shape == (4,)
    messages = []
    for m in (ember, torch):
        model_dir = hub_home / f"dir_{m.__name__}"
        with pytest.raises(RuntimeError) as info:
            m.hub.load_state_dict_from_url(bad.as_uri(), model_dir=str(model_dir), check_hash=True, progress=False)
        messages.append(str(info.value))
        assert os.listdir(model_dir) == []                  # nothing half-written is left behind
    assert messages[0] == messages[1] == f'invalid hash value (expected "0123456789", got "{digest}")'
    # without check_hash the name is not looked at
    assert ember.hub.load_state_dict_from_url(bad.as_uri(), progress=False)["w"].shape == (4,)


def test_download_url_to_file(hub_home, capsys):
    source = _checkpoint(hub_home)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    target = hub_home / "copy.bin"
    ember.hub.download_url_to_file(source.as_uri(), str(target), hash_prefix=digest[:8], progress=True)
    assert target.read_bytes() == source.read_bytes()
    assert "100.0%" in capsys.readouterr().err
    with pytest.raises(RuntimeError, match="invalid hash value"):
        ember.hub.download_url_to_file(source.as_uri(), str(hub_home / "other.bin"), hash_prefix="ffff", progress=False)
    assert not (hub_home / "other.bin").exists()
    assert [n for n in os.listdir(hub_home) if n.endswith(".partial")] == []


def test_legacy_zip_is_extracted_and_loaded(hub_home, torch):
    source = _checkpoint(hub_home)
    archive = hub_home / "legacy.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(source, "inner.pth")
    for m in (ember, torch):
        model_dir = hub_home / f"zip_{m.__name__}"
        with pytest.warns(FutureWarning, match="Falling back to the old format < 1.6"):
            state = m.hub.load_state_dict_from_url(archive.as_uri(), model_dir=str(model_dir), progress=False)
        assert state["w"].tolist() == [0.0, 1.0, 2.0, 3.0]
        assert sorted(os.listdir(model_dir)) == ["inner.pth", "legacy.zip"]


def test_legacy_zip_refuses_paths_outside_the_folder(hub_home):
    archive = hub_home / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../escaped.pth", b"x")
    with pytest.raises(ValueError, match="directory traversal"), pytest.warns(FutureWarning):
        ember.hub.load_state_dict_from_url(archive.as_uri(), model_dir=str(hub_home / "z"), progress=False)
    assert not (hub_home / "escaped.pth").exists()


def test_model_zoo_load_url():
    from ember.utils import model_zoo
    assert model_zoo.load_url is ember.hub.load_state_dict_from_url
    assert ember.utils.model_zoo is model_zoo


HUBCONF = '''
"""A test hubconf."""
import helper

dependencies = ["numpy"]


def tiny(n=2, *, scale=1):
    """A tiny entry point."""
    return helper.triple(n) * scale


def _private():
    return None
'''


def _repo(folder):
    folder.mkdir(parents=True)
    (folder / "hubconf.py").write_text(HUBCONF)
    (folder / "helper.py").write_text("def triple(n):\n    return 3 * n\n")
    return folder


def test_load_local_hubconf(hub_home, torch):
    repo = _repo(hub_home / "repo")
    for m in (ember, torch):
        assert m.hub.load(str(repo), "tiny", 4, source="local", scale=2) == 24
        sys.modules.pop("helper", None)
        assert str(repo) not in sys.path
        with pytest.raises(RuntimeError, match="Cannot find callable nope in hubconf"):
            m.hub.load(str(repo), "nope", source="local")
        with pytest.raises(ValueError, match="model should be a string"):
            m.hub.load(str(repo), 3, source="local")
        with pytest.raises(ValueError, match='Unknown source: "bogus"'):
            m.hub.load(str(repo), "tiny", source="bogus")
        with pytest.raises(FileNotFoundError):
            m.hub.load(str(hub_home), "tiny", source="local")
        sys.modules.pop("helper", None)


def test_missing_dependencies(hub_home, torch):
    repo = hub_home / "deps"
    repo.mkdir()
    (repo / "hubconf.py").write_text("dependencies = ['no_such_pkg_13', 'numpy', 'no_such_2']\n"
                                     "def f():\n    return 1\n")
    for m in (ember, torch):
        with pytest.raises(RuntimeError, match="Missing dependencies: no_such_pkg_13, no_such_2"):
            m.hub.load(str(repo), "f", source="local")


def test_github_repo_from_the_hub_cache(hub_home, capsys, torch):
    _repo(hub_home / "torch_home" / "hub" / "owner_repo_v1.0")
    for m in (ember, torch):
        assert m.hub.load("owner/repo:v1.0", "tiny") == 6
        assert "Using cache found in" in capsys.readouterr().err
        sys.modules.pop("helper", None)
        assert m.hub.list("owner/repo:v1.0", verbose=False) == ["tiny"]
        sys.modules.pop("helper", None)
        assert m.hub.help("owner/repo:v1.0", "tiny") == "A tiny entry point."
        sys.modules.pop("helper", None)
    _repo(hub_home / "torch_home" / "hub" / "owner_other_main")
    assert ember.hub.load("owner/other", "tiny", 1, verbose=False) == 3     # no ref: main, then master
    sys.modules.pop("helper", None)


def test_github_repo_not_cached_says_what_to_do(hub_home):
    with pytest.raises(RuntimeError, match="needs a download.*git clone https://github.com/someone/thing.*"
                                           "source='local'"):
        ember.hub.load("someone/thing:main", "model")
    _repo(hub_home / "torch_home" / "hub" / "someone_thing_main")
    with pytest.raises(RuntimeError, match="force_reload=True"):
        ember.hub.list("someone/thing:main", force_reload=True)
    sys.modules.pop("helper", None)


def test_hub_is_lazy_and_listed():
    assert "hub" in dir(ember)
    assert ember.hub.__name__ == "ember.hub"
