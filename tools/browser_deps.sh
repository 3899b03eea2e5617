#!/usr/bin/env bash
# Makes sure the browser tests (tests/test_browser.py) have what they need, run by `make test`:
#   - Debian's chromium (Playwright drives it; `playwright install` needs the internet),
#   - a CJK font (fonts-noto-cjk), or Chinese pages render as boxes in the screenshots,
#   - axe-core, pinned, from the npm registry into .cache/npm (gitignored).
# As root on Debian it installs what is missing; otherwise it fails, printing the commands to run.
set -euo pipefail
cd "$(dirname "$0")/.."

AXE_VERSION=4.14.1
AXE_DIR=.cache/npm

# CHROMIUM names another Chromium-based browser to use instead (GitHub's hosted runners have
# Google Chrome, and run as a user who cannot apt-get without sudo; see .github/workflows/ci.yml).
have_chromium() { command -v "${CHROMIUM:-chromium}" >/dev/null 2>&1; }
have_cjk_font() { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh family 2>/dev/null)" ]; }
have_axe() {
    [ -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ] &&
        grep -q "\"version\": \"$AXE_VERSION\"" "$AXE_DIR/node_modules/axe-core/package.json"
}

packages=()
have_chromium || packages+=(chromium)
have_cjk_font || packages+=(fonts-noto-cjk)
if [ ${#packages[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "browser_deps: installing ${packages[*]} with apt-get" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${packages[@]}" >/dev/null
    fi
fi
if ! have_chromium || ! have_cjk_font; then
    cat >&2 <<EOF
browser_deps: the browser tests need Debian's chromium and a CJK font (fonts-noto-cjk).
Install them, then run make test again:
    sudo apt-get update && sudo apt-get install -y chromium fonts-noto-cjk
(Elsewhere: a Chromium on PATH as \`chromium\`, and any font that fc-list :lang=zh shows.
Do not use \`playwright install\`: the tests run Debian's chromium.)
EOF
    exit 1
fi

if ! have_axe; then
    if command -v npm >/dev/null 2>&1; then
        echo "browser_deps: installing axe-core@$AXE_VERSION into $AXE_DIR" >&2
        mkdir -p "$AXE_DIR"
        npm install --prefix "$AXE_DIR" --no-save --no-audit --no-fund --silent "axe-core@$AXE_VERSION" >&2 || true
    fi
    if ! have_axe; then
        cat >&2 <<EOF
browser_deps: the accessibility tests need axe-core $AXE_VERSION in $AXE_DIR. Run:
    sudo apt-get install -y npm    # if npm is missing
    npm install --prefix $AXE_DIR --no-save axe-core@$AXE_VERSION
EOF
        exit 1
    fi
fi
