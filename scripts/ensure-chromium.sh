#!/bin/sh
# Install Debian's headless Chromium and its driver for the browser tests, once.
# The browser tests drive /usr/bin/chromium through pip's playwright; they never
# download a browser of their own.
set -eu
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends chromium chromium-driver fonts-dejavu-core
