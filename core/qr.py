"""QR codes as inline SVG that scale with CSS and keep their quiet zone."""

from __future__ import annotations

import segno

# The standard's quiet zone: four modules of light colour on every side. Scanners
# need it; it is part of the SVG (not left to CSS) so no stylesheet can crop it.
QUIET_ZONE_MODULES = 4


def qr_svg(data: str, *, dark: str = "#0b2545") -> str:
    """Return an inline SVG QR code with a viewBox (no fixed size) and a white quiet zone.

    Without a viewBox, an SVG given a CSS width is cropped, not scaled: the code
    loses its edge and will not scan.
    """
    code = segno.make(data, error="m")
    return str(
        code.svg_inline(
            scale=1, border=QUIET_ZONE_MODULES, dark=dark, light="#ffffff", omitsize=True
        )
    )
