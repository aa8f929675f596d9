"""The admin web UI (issue 10) in a real headless Chromium, driven by Playwright."""
