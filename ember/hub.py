"""ember.hub: PyTorch's torch.hub: download and cache checkpoints (load_state_dict_from_url, download_url_to_file)
and load models from a repo's hubconf.py (load, list, help).

The cache is PyTorch's own, shared with it: get_dir() is set_dir()'s folder, else $TORCH_HOME/hub, where
TORCH_HOME defaults to $XDG_CACHE_HOME/torch and XDG_CACHE_HOME to ~/.cache. Checkpoints go to
<hub dir>/checkpoints, so a file torch.hub downloaded is not fetched again, and the other way round.
URLs are opened with urllib (http, https, file, ...). With check_hash=True the file name must hold the start of
the file's SHA-256 (`name-<hex digits>.ext`), checked after download. A zip holding one file (PyTorch's format
before 1.6) is extracted next to it and that file loaded. As in PyTorch, weights_only defaults to False (the
pickle may build any object): pass weights_only=True for files you do not trust.

load(dir, model, source="local") imports dir/hubconf.py and calls its entry point `model`. For source="github"
("owner/repo[:ref]"), list() and help(), ember uses a repo already in the hub cache (<hub dir>/owner_repo_ref, as
torch.hub or a git clone left it) and does not download GitHub archives: a repo not there raises RuntimeError
saying where to put it.
"""
import contextlib
import errno
import hashlib
import importlib.util
import os
import re
import shutil
import sys
import uuid
import warnings
import zipfile
from urllib.parse import urlparse
from urllib.request import Request, urlopen

__all__ = ["download_url_to_file", "get_dir", "help", "list", "load", "load_state_dict_from_url", "set_dir"]

HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")       # the hash prefix in `name-<sha256 prefix>.ext`
_CHUNK = 128 * 1024
_hub_dir = None


# --- the cache folder ----------------------------------------------------------------------------------

def _get_torch_home():
    cache = os.getenv("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    return os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(cache, "torch")))


def get_dir():
    """The hub cache folder: set_dir()'s, else $TORCH_HOME/hub (shared with PyTorch)."""
    if os.getenv("TORCH_HUB"):
        warnings.warn("TORCH_HUB is deprecated, please use env TORCH_HOME instead", stacklevel=2)
    return _hub_dir if _hub_dir is not None else os.path.join(_get_torch_home(), "hub")


def set_dir(d):
    """Use folder d (~ expanded) as the hub cache from now on."""
    global _hub_dir
    _hub_dir = os.path.expanduser(d)


# --- downloading -----------------------------------------------------------------------------------------

class _Progress:
    """A one-line byte counter on stderr (PyTorch uses tqdm when it is installed; ember needs no extra package)."""

    def __init__(self, total, enabled):
        self.total, self.enabled, self.done = total, enabled, 0

    def update(self, n):
        self.done += n
        if self.enabled:
            if self.total:
                sys.stderr.write(f"\r{100 * self.done / self.total:5.1f}% of {self.total} bytes")
            else:
                sys.stderr.write(f"\r{self.done} bytes")
            sys.stderr.flush()

    def close(self):
        if self.enabled:
            sys.stderr.write("\n")


def download_url_to_file(url, dst, hash_prefix=None, progress=True):
    """Download `url` to the path `dst` through a temporary file beside it, renamed into place only when complete
    (and, given hash_prefix, only when the SHA-256 of the content starts with it: RuntimeError otherwise)."""
    response = urlopen(Request(url, headers={"User-Agent": "torch.hub"}))
    length = response.info().get_all("Content-Length")
    total = int(length[0]) if length else None
    dst = os.path.expanduser(dst)
    partial = None
    for _ in range(100):                          # a name nobody else is writing (not NamedTemporaryFile: that
        candidate = f"{dst}.{uuid.uuid4().hex}.partial"      # would give the final file its 0600 permissions)
        try:
            partial = open(candidate, "xb")
            break
        except FileExistsError:
            continue
    if partial is None:
        raise FileExistsError(errno.EEXIST, "No usable temporary file name found")
    try:
        digest = hashlib.sha256() if hash_prefix is not None else None
        bar = _Progress(total, progress)
        with response:
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                partial.write(chunk)
                if digest is not None:
                    digest.update(chunk)
                bar.update(len(chunk))
        bar.close()
        partial.close()
        if digest is not None and not digest.hexdigest().startswith(hash_prefix):
            raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got "{digest.hexdigest()}")')
        shutil.move(partial.name, dst)
    finally:
        partial.close()
        if os.path.exists(partial.name):
            os.remove(partial.name)


def _is_legacy_zip_format(filename):
    """A zip with exactly one file: how checkpoints were zipped before PyTorch 1.6's zip format."""
    if not zipfile.is_zipfile(filename):
        return False
    with zipfile.ZipFile(filename) as archive:
        members = archive.infolist()
    return len(members) == 1 and not members[0].is_dir()


def _safe_extract_zip(archive, folder):
    """Extract every member inside `folder`, refusing absolute paths and `..` (zip slip), as PyTorch does."""
    root = os.path.realpath(folder)
    for member in archive.infolist():
        name = os.path.normpath(member.filename)
        if name.startswith(("/", "\\")) or (len(name) >= 2 and name[1] == ":" and name[0].isalpha()):
            raise ValueError(f"Archive entry has absolute path: {member.filename}")
        if ".." in re.split(r"[/\\]", name):
            raise ValueError(f"Archive entry contains directory traversal: {member.filename}")
        target = os.path.realpath(os.path.join(root, name))
        if os.path.commonpath([root, target]) != root:
            raise ValueError(f"Archive entry escapes target directory: {member.filename}")
        archive.extract(member, root)


def _legacy_zip_load(filename, model_dir, map_location, weights_only):
    from .serialization import load as _load
    warnings.warn("Falling back to the old format < 1.6. This support will be deprecated in favor of default "
                  "zipfile format introduced in 1.6. Please redo torch.save() to save it in the new zipfile "
                  "format.", FutureWarning, stacklevel=3)
    with zipfile.ZipFile(filename) as archive:
        members = archive.infolist()
        if len(members) != 1:
            raise RuntimeError("Only one file(not dir) is allowed in the zipfile")
        _safe_extract_zip(archive, model_dir)
        extracted = os.path.join(model_dir, members[0].filename)
    return _load(extracted, map_location=map_location, weights_only=weights_only)


def load_state_dict_from_url(url, model_dir=None, map_location=None, progress=True, check_hash=False,
                             file_name=None, weights_only=False):
    """ember.load of the file at `url`, downloaded once into model_dir (default <hub dir>/checkpoints) under
    file_name (default: the URL's last path part) and read from there afterwards."""
    if os.getenv("TORCH_MODEL_ZOO"):
        warnings.warn("TORCH_MODEL_ZOO is deprecated, please use env TORCH_HOME instead", stacklevel=2)
    if model_dir is None:
        model_dir = os.path.join(get_dir(), "checkpoints")
    os.makedirs(model_dir, exist_ok=True)
    filename = file_name if file_name is not None else os.path.basename(urlparse(url).path)
    cached_file = os.path.join(model_dir, filename)
    if not os.path.exists(cached_file):
        sys.stdout.write(f'Downloading: "{url}" to {cached_file}\n')
        match = HASH_REGEX.search(filename) if check_hash else None
        download_url_to_file(url, cached_file, match.group(1) if match else None, progress=progress)
    if _is_legacy_zip_format(cached_file):
        return _legacy_zip_load(cached_file, model_dir, map_location, weights_only)
    from .serialization import load as _load
    return _load(cached_file, map_location=map_location, weights_only=weights_only)


# --- hubconf.py entry points --------------------------------------------------------------------------------

@contextlib.contextmanager
def _on_sys_path(folder):
    sys.path.insert(0, folder)                    # hubconf.py may import modules beside it
    try:
        yield
    finally:
        sys.path.remove(folder)


def _import_hubconf(folder):
    """folder/hubconf.py as a fresh module (call with the folder on sys.path)."""
    spec = importlib.util.spec_from_file_location("hubconf", os.path.join(folder, "hubconf.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)               # FileNotFoundError without a hubconf.py, as in PyTorch
    return module


def _entry(module, model):
    if not isinstance(model, str):
        raise ValueError("Invalid input: model should be a string of function name")
    missing = [name for name in getattr(module, "dependencies", ()) if importlib.util.find_spec(name) is None]
    if missing:
        raise RuntimeError(f"Missing dependencies: {', '.join(missing)}")
    fn = getattr(module, model, None)
    if fn is None or not callable(fn):
        raise RuntimeError(f"Cannot find callable {model} in hubconf")
    return fn


def _cached_repo(github, force_reload, trust_repo, calling_fn, verbose):
    """The folder of a GitHub repo ("owner/repo[:ref]") in the hub cache; ember does not download it."""
    repo_info, _, ref = github.partition(":")
    owner, name = repo_info.split("/")
    hub_dir = get_dir()
    refs = [ref.replace("/", "_")] if ref else ["main", "master"]      # PyTorch's offline guess, in its order
    candidates = [os.path.join(hub_dir, f"{owner}_{name}_{r}") for r in refs]
    found = next((c for c in candidates if os.path.isfile(os.path.join(c, "hubconf.py"))), None)
    if found is None or force_reload:
        why = "force_reload=True asks for a fresh download" if found is not None else \
            f"the repo is not in the hub cache (looked for {' and '.join(candidates)})"
        raise RuntimeError(
            f"ember.hub.{calling_fn}: getting {github} from GitHub needs a download, which ember.hub does not do: "
            f"{why}. Clone the repo (git clone https://github.com/{owner}/{name}) and call "
            f"ember.hub.load(<clone folder>, model, source='local'), or place the clone at {candidates[0]}.")
    _check_trusted(owner, name, trust_repo, calling_fn)
    if verbose:
        sys.stderr.write(f"Using cache found in {found}\n")
    return found


def _check_trusted(owner, name, trust_repo, calling_fn):
    """PyTorch's trust_repo: a repo in the cache counts as trusted; trust_repo=False still asks."""
    if trust_repo is False:
        response = input(f"The repository {owner}_{name} does not belong to the list of trusted repositories and "
                         "as such cannot be downloaded. Do you trust this repository and wish to add it to the "
                         "trusted list of repositories (y/N)?")
        if response.lower() in ("y", "yes"):
            print("The repository is already trusted.")
        elif response.lower() in ("n", "no", ""):
            raise Exception("Untrusted repository.")
        else:
            raise ValueError(f"Unrecognized response {response}.")


def load(repo_or_dir, model, *args, source="github", trust_repo="check", force_reload=False, verbose=True,
         skip_validation=False, **kwargs):
    """hubconf.py's entry point `model` called with *args, **kwargs: from a local folder (source="local") or a
    GitHub repo already in the hub cache (source="github")."""
    source = source.lower()
    if source not in ("github", "local"):
        raise ValueError(f'Unknown source: "{source}". Allowed values: "github" | "local".')
    if source == "github":
        repo_or_dir = _cached_repo(repo_or_dir, force_reload, trust_repo, "load", verbose)
    with _on_sys_path(repo_or_dir):
        module = _import_hubconf(repo_or_dir)
        return _entry(module, model)(*args, **kwargs)


def list(github, force_reload=False, skip_validation=False, trust_repo="check", verbose=True):
    """The public callables of a cached GitHub repo's hubconf.py (names without a leading underscore)."""
    folder = _cached_repo(github, force_reload, trust_repo, "list", verbose)
    with _on_sys_path(folder):
        module = _import_hubconf(folder)
    return [name for name in dir(module) if callable(getattr(module, name)) and not name.startswith("_")]


def help(github, model, force_reload=False, skip_validation=False, trust_repo="check"):
    """The docstring of entry point `model` in a cached GitHub repo's hubconf.py."""
    folder = _cached_repo(github, force_reload, trust_repo, "help", True)
    with _on_sys_path(folder):
        module = _import_hubconf(folder)
    return _entry(module, model).__doc__
