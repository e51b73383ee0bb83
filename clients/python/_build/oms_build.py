"""A PEP 517 build backend in the standard library, for a pure-Python package of one folder.

setuptools before 70.1 builds wheels only with the separate `wheel` package, which machines with
an older setuptools often lack, and `pip install --no-build-isolation` cannot fetch it. This
package is one folder of .py files, so writing its wheel (a zip with a dist-info) needs nothing.
"""

import base64
import hashlib
import io
import os
import tarfile
import tomllib
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _project():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as file:
        project = tomllib.load(file)["project"]
    return project, project["name"].replace("-", "_"), project["version"]


def _metadata():
    project, _, version = _project()
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {version}", f"Summary: {project['description']}"]
    lines.append(f"Requires-Python: {project['requires-python']}")
    return "\n".join(lines) + "\n"


def _package_files():
    package = os.path.join(ROOT, "oms")
    for name in sorted(os.listdir(package)):
        if name.endswith(".py"):
            yield f"oms/{name}", os.path.join(package, name)


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _, dist, version = _project()
    info = f"{dist}-{version}.dist-info"
    name = f"{dist}-{version}-py3-none-any.whl"
    files = [(path, open(source, "rb").read()) for path, source in _package_files()]
    files.append((f"{info}/METADATA", _metadata().encode()))
    files.append((f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: oms_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
    files.append((f"{info}/top_level.txt", b"oms\n"))
    record = [_record_line(path, data) for path, data in files] + [f"{info}/RECORD,,"]
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as wheel:
        for path, data in files:
            wheel.writestr(path, data)
        wheel.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return name


def build_sdist(sdist_directory, config_settings=None):
    _, dist, version = _project()
    base = f"{dist}-{version}"
    name = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as sdist:
        for relative in ["pyproject.toml", "README.md", "_build/oms_build.py"] + [path for path, _ in _package_files()]:
            sdist.add(os.path.join(ROOT, relative), arcname=f"{base}/{relative}")
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        data = _metadata().encode()
        info.size = len(data)
        sdist.addfile(info, io.BytesIO(data))
    return name
