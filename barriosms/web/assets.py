"""Static files: the site's own (barriosms/web/static) and Leaflet from the XStatic-Leaflet package.

Never a CDN: the site must work on a municipal network that only reaches the Pi. Each file is read
and gzip-compressed once, kept in memory (a few hundred KB in all), and served with an ETag,
Last-Modified and a day of caching; pages link to them with `?v=<hash>` (`asset_url`), so an
upgrade is seen at once. A path that leaves the folder is a 404.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import threading
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Response, abort, request
from werkzeug.http import http_date, parse_date
from werkzeug.security import safe_join

SITE_DIR = Path(__file__).resolve().parent / "static"
MAX_AGE = 86400
MAX_NAME = 200  # longer than any file we serve; the file system would refuse some longer names
_COMPRESSIBLE = (".js", ".css", ".svg", ".json", ".map", ".txt", ".geojson")
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".svg": "image/svg+xml", ".map": "application/json"}

blueprint = Blueprint("assets", __name__)


def leaflet_dir() -> Path:
    import xstatic.pkg.leaflet

    return Path(xstatic.pkg.leaflet.BASE_DIR)


@dataclass(frozen=True)
class Asset:
    data: bytes
    gzipped: bytes | None  # None: not worth compressing (images)
    etag: str  # without quotes; the gzip variant adds "-gz"
    mtime: float
    mimetype: str


_cache: dict[Path, Asset | None] = {}
_lock = threading.Lock()


def _load(root: Path, name: str) -> Asset | None:
    if len(name) > MAX_NAME:
        return None
    joined = safe_join(str(root), name)
    if joined is None or any(part.startswith(".") for part in Path(name).parts):
        return None
    path = Path(joined)
    with _lock:
        if path in _cache:
            return _cache[path]
    try:
        asset = _read(path) if path.is_file() else None
    except OSError:  # a name the file system refuses (too long, invalid bytes): not one of ours
        asset = None
    with _lock:
        if len(_cache) < 500:  # only a probe for missing names could fill it; keep it bounded
            _cache[path] = asset
    return asset


def _serve(root: Path, name: str) -> Response:
    asset = _load(root, name)
    if asset is None:
        abort(404)
    use_gzip = asset.gzipped is not None and request.accept_encodings["gzip"] > 0
    etag = asset.etag + ("-gz" if use_gzip else "")
    headers = {
        "ETag": f'"{etag}"',
        "Last-Modified": http_date(asset.mtime),
        "Cache-Control": f"public, max-age={MAX_AGE}",
        "Vary": "Accept-Encoding",
    }
    if _not_modified(asset, etag):
        return Response(status=304, headers=headers)
    body = asset.gzipped if use_gzip else asset.data
    if use_gzip:
        headers["Content-Encoding"] = "gzip"
    return Response(body, mimetype=asset.mimetype, headers=headers)


def _not_modified(asset: Asset, etag: str) -> bool:
    wanted = request.headers.get("If-None-Match")
    if wanted:
        tags = {t.strip().removeprefix("W/").strip('"') for t in wanted.split(",")}
        return etag in tags or "*" in tags
    since = parse_date(request.headers.get("If-Modified-Since"))
    return since is not None and since.timestamp() >= asset.mtime


def _read(path: Path) -> Asset:
    data = path.read_bytes()
    suffix = path.suffix.lower()
    return Asset(
        data=data,
        gzipped=gzip.compress(data, 9, mtime=0) if suffix in _COMPRESSIBLE else None,
        etag=hashlib.sha256(data).hexdigest()[:20],
        mtime=int(path.stat().st_mtime),
        mimetype=_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream",
    )


def asset_url(name: str) -> str:
    """/static/<name>?v=<content hash> for the site's own files (the hash busts caches on upgrade)."""
    asset = _load(SITE_DIR, name)
    return f"/static/{name}" + (f"?v={asset.etag[:10]}" if asset else "")


def leaflet_url(name: str) -> str:
    import xstatic.pkg.leaflet

    return f"/static/leaflet/{name}?v={xstatic.pkg.leaflet.VERSION}"


@blueprint.get("/static/leaflet/<path:name>")
def leaflet(name: str) -> Response:
    return _serve(leaflet_dir(), name)


@blueprint.get("/static/<path:name>")
def site(name: str) -> Response:
    return _serve(SITE_DIR, name)
