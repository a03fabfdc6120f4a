#!/bin/sh
# Install the Debian packages the project needs besides Python's: DejaVu fonts (the PDF
# statements' Cyrillic and Kazakh letters) and gettext (compilemessages, the catalogs'
# completeness check). Runs apt-get only when something is missing.
set -eu
missing=""
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$missing fonts-dejavu-core"
command -v msgfmt >/dev/null 2>&1 || missing="$missing gettext"
if [ -z "$missing" ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "missing Debian packages:$missing (run as root: apt-get install$missing)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
