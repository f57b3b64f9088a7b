"""The status page (placeholder until the operator issue lands)."""


def render_status_page(daemon) -> str:
    return "<!doctype html><title>jaga</title><p>jaga is running.</p>"
