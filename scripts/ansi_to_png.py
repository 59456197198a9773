#!/usr/bin/python3
"""Renders a `tmux capture-pane -e -p` text (ANSI SGR colours) to a PNG.

Usage: ansi_to_png.py CAPTURE.txt OUT.png [COLUMNS]
Needs Debian python3-pil and fonts-dejavu-core (DejaVu Sans Mono). Only for
the README screenshot; not needed to build or test.
"""
import re
import sys
import unicodedata

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
# xterm-like palette, 0-15.
PALETTE = [
    (0, 0, 0), (205, 49, 49), (13, 188, 121), (229, 229, 16), (36, 114, 200), (188, 63, 188), (17, 168, 205),
    (229, 229, 229), (102, 102, 102), (241, 76, 76), (35, 209, 139), (245, 245, 67), (59, 142, 234),
    (214, 112, 214), (41, 184, 219), (255, 255, 255),
]
DEFAULT_FG, DEFAULT_BG = (220, 220, 220), (24, 24, 28)


def xterm256(c):
    if c >= 232:
        v = 8 + (c - 232) * 10
        return (v, v, v)
    c -= 16
    steps = [0, 95, 135, 175, 215, 255]
    return (steps[c // 36], steps[(c // 6) % 6], steps[c % 6])


def width(ch):
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def main():
    text = open(sys.argv[1], encoding="utf-8").read().rstrip("\n").split("\n")
    cols = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    size = 16
    font, bold = ImageFont.truetype(FONT, size), ImageFont.truetype(BOLD, size)
    cw, ch = int(font.getlength("M")), size + 4
    img = Image.new("RGB", (cols * cw + 16, len(text) * ch + 16), DEFAULT_BG)
    draw = ImageDraw.Draw(img)
    for y, line in enumerate(text):
        fg, bg, is_bold, reverse, underline, dim = DEFAULT_FG, None, False, False, False, False
        x = 0
        for part in re.split(r"(\x1b\[[0-9;]*m)", line):
            if part.startswith("\x1b["):
                params = [int(p) if p else 0 for p in part[2:-1].split(";")]
                i = 0
                while i < len(params):
                    p = params[i]
                    if p == 0:
                        fg, bg, is_bold, reverse, underline, dim = DEFAULT_FG, None, False, False, False, False
                    elif p == 1: is_bold = True
                    elif p == 2: dim = True
                    elif p == 4: underline = True
                    elif p == 7: reverse = True
                    elif 30 <= p <= 37: fg = PALETTE[p - 30]
                    elif 90 <= p <= 97: fg = PALETTE[p - 90 + 8]
                    elif 40 <= p <= 47: bg = PALETTE[p - 40]
                    elif p == 39: fg = DEFAULT_FG
                    elif p == 49: bg = None
                    elif p in (38, 48) and i + 2 < len(params) and params[i + 1] == 5:
                        c = params[i + 2]
                        colour = PALETTE[c] if c < 16 else xterm256(c)
                        if p == 38: fg = colour
                        else: bg = colour
                        i += 2
                    i += 1
                continue
            for c in part:
                w = width(c)
                f, b = (bg or DEFAULT_BG, fg) if reverse else (fg, bg)
                if dim: f = tuple(v // 2 + 20 for v in f)
                x0, y0 = 8 + x * cw, 8 + y * ch
                if b is not None:
                    draw.rectangle([x0, y0, x0 + w * cw - 1, y0 + ch - 1], fill=b)
                draw.text((x0, y0 + 2), c, font=bold if is_bold else font, fill=f)
                if underline:
                    draw.line([x0, y0 + ch - 3, x0 + w * cw - 1, y0 + ch - 3], fill=f)
                x += w
    img.save(sys.argv[2])


if __name__ == "__main__":
    main()
