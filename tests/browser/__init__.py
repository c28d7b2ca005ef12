"""The dashboard in real Chromium (Debian's /usr/bin/chromium, driven by Playwright) against the real server."""
