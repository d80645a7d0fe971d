"""Where uploaded files (theme photos) are served from, for the Content-Security-Policy's img-src.

Imported by the settings module: standard library only.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def media_origins(
    *,
    media_url: str,
    bucket: str = "",
    custom_domain: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> list[str]:
    """The origins other than the site's own that <img> tags of uploaded files point at.

    Filesystem storage serves from MEDIA_URL (a path on this site: nothing to add,
    unless MEDIA_URL is a full URL, e.g. a CDN). With a bucket, django-storages builds
    URLs on the custom domain when one is set, else on the endpoint (path or
    virtual-host style) or on Amazon S3's own host names.
    """
    origins: list[str] = []
    media_origin = _origin(media_url)
    if media_origin:
        origins.append(media_origin)
    if bucket:
        if custom_domain:
            origins.append(_origin(custom_domain) or f"https://{custom_domain.strip('/')}")
        elif endpoint_url:
            endpoint = urlsplit(endpoint_url)
            base = _origin(endpoint_url)
            if base:
                origins += [base, f"{endpoint.scheme}://{bucket}.{endpoint.netloc}"]
        else:
            origins.append(f"https://{bucket}.s3.amazonaws.com")
            if region:
                origins += [f"https://{bucket}.s3.{region}.amazonaws.com", f"https://s3.{region}.amazonaws.com"]
    return list(dict.fromkeys(origins))
