"""Draw the charts that the demo corpus's alt texts describe, as images for those rows.

Every alt text in ``alt_text.tsv`` that describes a chart, graph or plot with concrete data
(bar, column, grouped and stacked bars, line, area, pie, donut, scatter, box plot, Sankey,
Gantt, and the three "in numbers" infographics) has its data written down by hand in
``CHARTS`` below, read from our own alt text. Where an alt text gives only some of the numbers
(a start, a peak, an end), the others are filled in to fit what it says; each such chart says
so in a comment. The charts are drawn with Pillow alone, deterministically: 512x512 RGB PNG,
white background, Pillow's built-in font, saved with ``optimize=True``. Running the script twice
gives byte-identical files (with the same Pillow, FreeType and zlib).

Run by hand from the repository root; the demo itself only reads the PNGs::

    python corpora/demo/make_chart_images.py            # writes corpora/demo/images/<alt_id>.png
    python corpora/demo/make_chart_images.py --out DIR  # somewhere else

The built-in font has ASCII and a few Latin-1 signs (the degree sign among them), so labels
say "cents" and "sq km" rather than using the cent or superscript signs.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
IMAGES = HERE / "images"
SIZE = 512

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _years(first: int, last: int) -> list[str]:
    return [str(y) for y in range(first, last + 1)]


# --------------------------------------------------------------------------------- the data
# One entry per alt text, keyed by alt_id. `kind` picks the drawing; the other keys are that
# drawing's. Numbers the alt text states are used as stated; "filled in" marks the others.

# fmt: off
CHARTS: dict[str, dict[str, Any]] = {
    # Stated: 2019 412,000; 2020 98,000; 2022 301,000. Filled in: 2018 and 2021.
    "alt-0004": {
        "kind": "bar",
        "title": "Annual library visits, 2018-2022",
        "ylabel": "Visits (thousands)",
        "labels": _years(2018, 2022),
        "values": [405, 412, 98, 187, 301],
        "fmt": "{:,.0f}k",
        "tickfmt": "{:,.0f}",
    },
    # Stated: $1,050 in 2015 to $1,720 in 2022, steepest rise in 2021. Filled in: 2016-2021.
    "alt-0012": {
        "kind": "line",
        "title": "Average monthly rent, one-bedroom apartment, 2015-2022",
        "ylabel": "Rent (US$ per month)",
        "x": _years(2015, 2022),
        "series": {"Rent": [1050, 1110, 1170, 1235, 1300, 1345, 1560, 1720]},
        "tickfmt": "${:,.0f}",
        "annotate": [(0, 0, "$1,050", "below right"), (0, 7, "$1,720", "above")],
    },
    # All stated.
    "alt-0019": {
        "kind": "pie",
        "title": "Household energy use",
        "labels": ["Heating", "Water heating", "Appliances", "Lighting", "Cooling", "Other"],
        "values": [42, 18, 16, 9, 8, 7],
    },
    # Stated: driving alone 68% -> 55%, transit 12% -> 17%, cycling 3% -> 9%.
    # Filled in: "Other" (walking, carpool, working from home) as the rest of 100%.
    "alt-0036": {
        "kind": "stacked",
        "title": "How people commute, 2012 and 2022",
        "ylabel": "Share of commuters (%)",
        "labels": ["2012", "2022"],
        "series": {
            "Driving alone": [68, 55],
            "Public transit": [12, 17],
            "Cycling": [3, 9],
            "Other": [17, 19],
        },
        "fmt": "{:.0f}%",
        "tickfmt": "{:.0f}%",
    },
    # Stated: starts near -0.2 in 1980, climbs unevenly to about +0.5 by 2022.
    # Filled in: every year in between.
    "alt-0052": {
        "kind": "line",
        "title": "Global average sea surface temperature, 1980-2022",
        "subtitle": "Difference from the 1981-2010 average",
        "ylabel": "Difference (°C)",
        "x": _years(1980, 2022),
        "series": {
            "Sea surface temperature": [
                -0.20, -0.17, -0.22, -0.12, -0.24, -0.25, -0.18, -0.05, -0.08, -0.14, -0.04,
                -0.06, -0.15, -0.12, -0.08, -0.02, -0.07, 0.08, 0.14, -0.03, -0.02, 0.06, 0.10,
                0.12, 0.10, 0.14, 0.13, 0.06, 0.02, 0.14, 0.17, 0.05, 0.12, 0.15, 0.24, 0.36,
                0.38, 0.30, 0.27, 0.37, 0.35, 0.31, 0.48,
            ]
        },
        "xstep": 10,
        "tickfmt": "{:+.1f}",
        "zero": True,
    },
    # All stated.
    "alt-0060": {
        "kind": "hbar",
        "title": "Top five reasons residents gave for leaving the region",
        "labels": ["Housing costs", "Job opportunities", "Family", "Climate", "Schools"],
        "values": [47, 31, 22, 11, 9],
        "fmt": "{:.0f}%",
        "footnote": "Respondents could choose more than one reason.",
    },
    # All stated.
    "alt-0070": {
        "kind": "bill",
        "title": "Where Your Donation Goes",
        "subtitle": "Of every dollar you give",
        "labels": ["Programs", "Fundraising", "Administration"],
        "values": [78, 14, 8],
    },
    # Stated: 210 hours in January, 640 in June, a dip in April. Filled in: February-May.
    "alt-0078": {
        "kind": "bar",
        "title": "Volunteer hours logged each month this year",
        "ylabel": "Hours",
        "labels": MONTHS[:6],
        "values": [210, 290, 380, 330, 520, 640],
        "fmt": "{:,.0f}",
    },
    # Stated: 48 districts, a slight upward trend, several low-funded districts above
    # average. Filled in: every point (invented; correlation about 0.27).
    "alt-0080": {
        "kind": "scatter",
        "title": "School funding per pupil and average reading score, 48 districts",
        "xlabel": "Funding per pupil (US$ thousands)",
        "ylabel": "Average reading score",
        "points": [
            (8.7, 224), (8.7, 214), (8.8, 220), (9.1, 224), (9.1, 217), (9.8, 220), (9.8, 219),
            (9.9, 212), (10.1, 213), (10.2, 222), (10.2, 229), (10.6, 220), (10.8, 209),
            (11.1, 228), (11.2, 219), (11.8, 220), (12.1, 220), (12.6, 215), (12.8, 214),
            (13.1, 212), (13.3, 225), (13.7, 212), (13.9, 220), (14.1, 215), (14.1, 223),
            (14.6, 216), (15.2, 220), (15.7, 211), (15.8, 220), (16.1, 222), (16.2, 212),
            (16.4, 226), (16.4, 236), (16.4, 233), (16.6, 223), (17.3, 226), (17.4, 209),
            (17.4, 217), (17.6, 225), (17.7, 224), (17.8, 218), (17.8, 219), (18.2, 219),
            (18.6, 228), (18.9, 230), (19.1, 230), (19.2, 226), (19.3, 218),
        ],
        "mean_line": True,
        "xtickfmt": "{:.0f}",
        "tickfmt": "{:.0f}",
    },
    # Stated: near 3.6% until the spike to 14.7% in April 2020, 3.5% by late 2022.
    # Filled in: the other months.
    "alt-0097": {
        "kind": "line",
        "title": "Unemployment rate, January 2019 to December 2022",
        "ylabel": "Unemployment rate (%)",
        "x": [f"{m} {y}" for y in range(2019, 2023) for m in MONTHS],
        "series": {
            "Unemployment rate": [
                4.0, 3.8, 3.8, 3.7, 3.6, 3.6, 3.7, 3.6, 3.5, 3.6, 3.6, 3.6, 3.5, 3.5, 4.4, 14.7,
                13.2, 11.0, 10.2, 8.4, 7.9, 6.9, 6.7, 6.7, 6.4, 6.2, 6.1, 6.1, 5.8, 5.9, 5.4,
                5.1, 4.7, 4.5, 4.1, 3.9, 4.0, 3.8, 3.6, 3.7, 3.6, 3.6, 3.5, 3.6, 3.5, 3.7, 3.6,
                3.5,
            ]
        },
        "xstep": 12,
        "y0": 0,
        "tickfmt": "{:.0f}%",
        "annotate": [(0, 15, "14.7% (Apr 2020)", "right"), (0, 47, "3.5%", "above")],
    },
    # All stated.
    "alt-0100": {
        "kind": "bar",
        "title": "Boiling points of water, ethanol and acetone",
        "ylabel": "Boiling point (°C)",
        "labels": ["Water", "Ethanol", "Acetone"],
        "values": [100, 78, 56],
        "fmt": "{:.0f} °C",
    },
    # All stated (in the alt text's order).
    "alt-0105": {
        "kind": "donut",
        "title": "2023 budget by department",
        "centre": "2023 budget",
        "labels": [
            "Police",
            "Public Works",
            "Parks and Recreation",
            "Fire",
            "Library",
            "Administration",
        ],
        "values": [31, 22, 12, 18, 5, 12],
    },
    # All stated.
    "alt-0112": {
        "kind": "bar",
        "title": "Trees planted per year by the program",
        "ylabel": "Trees planted",
        "labels": ["2019", "2020", "2021", "2022", "2023 to date"],
        "values": [1200, 950, 2400, 3100, 2050],
        "fmt": "{:,.0f}",
    },
    # Stated: Eastside around 40, Riverside from 55 to 82 per 10,000 residents.
    # Filled in: the years in between.
    "alt-0120": {
        "kind": "line",
        "title": "Hospital admissions for asthma in two neighbourhoods, 2016-2022",
        "ylabel": "Admissions per 10,000 residents",
        "x": _years(2016, 2022),
        "series": {
            "Eastside": [41, 39, 40, 42, 38, 40, 41],
            "Riverside": [55, 59, 63, 68, 72, 77, 82],
        },
        "y0": 0,
        "tickfmt": "{:.0f}",
        "annotate": [(1, 0, "55", "above"), (1, 6, "82", "above")],
    },
    # Stated: Russia about 17.1 million sq km, then Canada and China, Kazakhstan last at 2.7.
    # Filled in: the others, as approximate total areas (the United States without its
    # coastal and territorial waters, so that China stays third as the alt text has it). The
    # alt text says "ten largest", but Kazakhstan is the ninth largest country; the chart shows
    # the nine down to Kazakhstan, as the alt text's other details describe.
    "alt-0144": {
        "kind": "hbar",
        "title": "The largest countries by land area",
        "labels": [
            "Russia",
            "Canada",
            "China",
            "United States",
            "Brazil",
            "Australia",
            "India",
            "Argentina",
            "Kazakhstan",
        ],
        "values": [17.1, 10.0, 9.6, 9.5, 8.5, 7.7, 3.3, 2.8, 2.7],
        "fmt": "{:.1f}",
        "footnote": "Million square kilometres",
    },
    # All stated, and the dotted 8-minute target line.
    "alt-0149": {
        "kind": "bar",
        "title": "Average response time for emergency calls by district",
        "ylabel": "Minutes",
        "labels": ["Downtown", "North", "East", "South", "West (rural)"],
        "values": [6.1, 7.4, 8.0, 9.7, 14.2],
        "fmt": "{:.1f}",
        "tickfmt": "{:.0f}",
        "target": (8, "Target: 8 minutes"),
    },
    # All stated: four figures, each above a small teal icon.
    "alt-0160": {
        "kind": "figures",
        "title": "Our Year in Numbers",
        "colour": "#00897B",
        "figures": [
            ("3,200", "calls answered", "phone"),
            ("740", "home visits", "house"),
            ("96%", "of clients satisfied", "smile"),
            ("18", "new staff trained", "cap"),
        ],
        "row": True,
    },
    # Stated: both indexed to 100 in 2000; by 2023 home prices 285, income 148, the gap
    # widening sharply after 2020. Filled in: the years in between.
    "alt-0166": {
        "kind": "line",
        "title": "Median home price and median household income, 2000-2023",
        "subtitle": "Index, 2000 = 100",
        "ylabel": "Index (2000 = 100)",
        "x": _years(2000, 2023),
        "series": {
            "Median home price": [
                100, 107, 115, 125, 138, 152, 163, 165, 158, 147, 144, 140, 142, 150, 158, 166,
                175, 184, 192, 200, 205, 238, 268, 285,
            ],
            "Median household income": [
                100, 101, 102, 103, 105, 108, 111, 114, 115, 113, 112, 113, 115, 117, 120, 124,
                128, 131, 134, 139, 140, 142, 145, 148,
            ],
        },
        "xstep": 5,
        "y0": 0,
        "tickfmt": "{:.0f}",
        "annotate": [(0, 23, "285", "above"), (1, 23, "148", "below")],
    },
    # All stated: four figures, each with a simple icon.
    "alt-0173": {
        "kind": "figures",
        "title": "Last year's impact",
        "colour": "#E65100",
        "figures": [
            ("12,400", "meals served", "plate"),
            ("860", "families helped", "family"),
            ("215", "volunteers", "heart"),
            ("4", "new partner schools", "school"),
        ],
    },
    # Stated: coal about 45% -> 16%, natural gas grows to 40%, wind and solar 2% -> 15%.
    # Filled in: the years in between, nuclear, and hydro and other as the rest of 100%.
    "alt-0175": {
        "kind": "area",
        "title": "Electricity generation by source, 2010-2023",
        "ylabel": "Share of generation (%)",
        "x": _years(2010, 2023),
        "series": {
            "Coal": [45, 43, 38, 39, 39, 34, 31, 30, 28, 24, 20, 22, 20, 16],
            "Natural gas": [24, 25, 31, 28, 28, 33, 34, 32, 34, 38, 40, 38, 39, 40],
            "Nuclear": [20, 19, 19, 19, 19, 19, 20, 20, 19, 20, 20, 19, 18, 18],
            "Hydro and other": [9, 10, 8, 10, 9, 9, 9, 11, 11, 9, 9, 9, 9, 11],
            "Wind and solar": [2, 3, 4, 4, 5, 5, 6, 7, 8, 9, 11, 12, 14, 15],
        },
        "xstep": 2,
        "tickfmt": "{:.0f}%",
    },
    # All stated.
    "alt-0183": {
        "kind": "hbar",
        "title": '"I feel safe walking in my neighbourhood at night."',
        "subtitle": "Survey responses",
        "labels": ["Strongly agree", "Agree", "Neutral", "Disagree", "Strongly disagree"],
        "values": [18, 34, 20, 19, 9],
        "fmt": "{:.0f}%",
    },
    # Stated: flat at about 24 until 2019, then up to 31 by 2023. Filled in: the rest.
    "alt-0200": {
        "kind": "line",
        "title": "Licensed childcare places per 100 children under five, 2014-2023",
        "ylabel": "Places per 100 children",
        "x": _years(2014, 2023),
        "series": {"Places": [24.1, 23.8, 24.0, 24.2, 23.9, 24.1, 25.6, 27.0, 29.2, 31.0]},
        "y0": 0,
        "tickfmt": "{:.0f}",
        "annotate": [(0, 0, "24", "above"), (0, 9, "31", "above")],
    },
    # Stated: four schools all improve each year, Lincoln High the most, 71% -> 84%.
    # Filled in: the other schools' names and rates, and Lincoln High's 2022 rate.
    "alt-0208": {
        "kind": "grouped",
        "title": "Graduation rates by school, 2021-2023",
        "ylabel": "Graduation rate (%)",
        "labels": ["Lincoln High", "Roosevelt High", "Jefferson High", "Central High"],
        "series": {
            "2021": [71, 82, 76, 88],
            "2022": [78, 85, 79, 90],
            "2023": [84, 88, 83, 91],
        },
        "fmt": "{:.0f}",
        "tickfmt": "{:.0f}%",
    },
    # All stated.
    "alt-0217": {
        "kind": "sankey",
        "title": "Where the city's waste goes",
        "source": ("Collected", 100_000),
        "labels": ["Landfill", "Recycled", "Composted"],
        "values": [58_000, 27_000, 15_000],
    },
    # Stated: 3,100 in May 2023 to 5,450 in April 2024. Filled in: the months between.
    "alt-0225": {
        "kind": "line",
        "title": "Newsletter subscribers, May 2023 to April 2024",
        "ylabel": "Subscribers",
        "x": [*(f"{m} 23" for m in MONTHS[4:]), *(f"{m} 24" for m in MONTHS[:4])],
        "series": {
            "Subscribers": [3100, 3240, 3390, 3520, 3700, 3880, 4050, 4230, 4490, 4760, 5080, 5450]
        },
        "xstep": 2,
        "y0": 0,
        "tickfmt": "{:,.0f}",
        "annotate": [(0, 0, "3,100", "below right"), (0, 11, "5,450", "above")],
    },
    # Stated: women report more hours in every group; the largest gap is 19 against 8 hours
    # among 35-44 year olds. Filled in: the age groups and their other hours.
    "alt-0235": {
        "kind": "grouped",
        "title": "Average hours of unpaid care work per week, by age group",
        "ylabel": "Hours per week",
        "labels": ["18-24", "25-34", "35-44", "45-64", "65+"],
        "series": {"Women": [8, 16, 19, 14, 12], "Men": [5, 8, 8, 8, 9]},
        "fmt": "{:.0f}",
        "tickfmt": "{:.0f}",
    },
    # Stated: starts near 8,000, 21,000 by September, about 19,500 through the winter.
    # Filled in: the opening month (March) and the other months.
    "alt-0243": {
        "kind": "line",
        "title": "Daily ridership on the new light rail line, first year",
        "ylabel": "Average daily riders",
        "x": [*MONTHS[2:], *MONTHS[:2]],
        "series": {
            "Daily riders": [
                8000, 10500, 13200, 15800, 18100, 19900, 21000, 20200, 19600, 19400, 19500,
                19500,
            ]
        },
        "y0": 0,
        "tickfmt": "{:,.0f}",
        "annotate": [(0, 0, "8,000", "below right"), (0, 6, "21,000", "above")],
    },
    # Stated: medians 72, 78 and 65; class C widest, from 30 to 95.
    # Filled in: quartiles and the ranges of classes A and B.
    "alt-0247": {
        "kind": "box",
        "title": "Test scores for three classes",
        "ylabel": "Test score",
        "labels": ["Class A", "Class B", "Class C"],
        "boxes": [(48, 64, 72, 80, 91), (58, 71, 78, 85, 94), (30, 52, 65, 79, 95)],
    },
    # Stated: lowest in January (22), peak in August (118), 35 in December.
    # Filled in: the other months.
    "alt-0261": {
        "kind": "bar",
        "title": "Reported bicycle thefts by month, 2023",
        "ylabel": "Thefts reported",
        "labels": MONTHS,
        "values": [22, 28, 41, 57, 76, 94, 109, 118, 97, 74, 51, 35],
        "fmt": "{:.0f}",
    },
    # Stated: 40 students, an upward red trend line, r = 0.68.
    # Filled in: every point (invented so that r is 0.68).
    "alt-0273": {
        "kind": "scatter",
        "title": "Study hours and exam score, 40 students",
        "xlabel": "Hours of study",
        "ylabel": "Exam score",
        "points": [
            (1.0, 54), (1.5, 47), (1.5, 46), (3.0, 58), (3.0, 39), (4.0, 54), (4.0, 45),
            (4.0, 60), (4.5, 42), (5.0, 84), (5.5, 65), (6.0, 71), (7.0, 52), (7.5, 51),
            (7.5, 44), (8.5, 74), (8.5, 60), (8.5, 49), (9.0, 48), (9.0, 70), (9.5, 49),
            (10.0, 77), (11.0, 88), (11.5, 69), (11.5, 55), (12.0, 44), (12.5, 72), (13.0, 64),
            (13.0, 80), (13.0, 85), (14.5, 72), (14.5, 63), (16.5, 68), (18.0, 90), (18.0, 92),
            (18.0, 77), (18.5, 89), (19.0, 95), (19.0, 81), (19.5, 71),
        ],
        "trend": True,
        "xtickfmt": "{:.0f}",
        "tickfmt": "{:.0f}",
    },
    # Stated: ages 18-29 drop from 79% to 68%; 65 and older stay around 70%.
    # Filled in: the years in between.
    "alt-0278": {
        "kind": "line",
        "title": "Adults who read a book in the past year, by age group, 2013-2023",
        "ylabel": "Adults (%)",
        "x": _years(2013, 2023),
        "series": {
            "Ages 18-29": [79, 80, 78, 77, 77, 75, 74, 72, 71, 69, 68],
            "Ages 65 and older": [70, 69, 71, 70, 69, 70, 71, 70, 69, 70, 70],
        },
        "xstep": 2,
        "tickfmt": "{:.0f}%",
        "annotate": [(0, 0, "79%", "below right"), (0, 10, "68%", "below")],
    },
    # All stated.
    "alt-0287": {
        "kind": "bar",
        "title": "Municipal roads rated in good condition",
        "ylabel": "Roads in good condition (%)",
        "labels": _years(2019, 2023),
        "values": [61, 58, 55, 57, 63],
        "fmt": "{:.0f}%",
        "tickfmt": "{:.0f}%",
    },
    # Stated: 9,200 litres in 2019 to 7,800 in 2024, falling after the rebates began.
    # Filled in: the years in between and the rebate start (2020).
    "alt-0294": {
        "kind": "line",
        "title": "Average monthly water use per household in our service area",
        "ylabel": "Litres per month",
        "x": _years(2019, 2024),
        "series": {"Water use": [9200, 9150, 8600, 8200, 7950, 7800]},
        "y0": 0,
        "tickfmt": "{:,.0f}",
        "annotate": [(0, 0, "9,200", "below right"), (0, 5, "7,800", "above")],
        "marker": (1, "Rebate program begins"),
    },
    # All stated.
    "alt-0299": {
        "kind": "hbar",
        "title": "The five most spoken languages by total speakers",
        "labels": ["English", "Mandarin", "Hindi", "Spanish", "French"],
        "values": [1500, 1100, 610, 560, 310],
        "texts": [
            "about 1.5 billion",
            "about 1.1 billion",
            "610 million",
            "560 million",
            "310 million",
        ],
    },
    # All stated.
    "alt-0304": {
        "kind": "stacked_hbar",
        "title": "How residents get local news",
        "subtitle": "Survey of 2,000 residents",
        "labels": ["Social media", "Television", "Websites", "Radio", "Print newspaper", "Other"],
        "values": [38, 27, 18, 9, 5, 3],
    },
    # Stated: near 40 days until 2019, 95 in 2020, 62 by 2024. Filled in: the other years.
    "alt-0312": {
        "kind": "line",
        "title": "Median wait time for elective surgery, 2015-2024",
        "ylabel": "Median wait (days)",
        "x": _years(2015, 2024),
        "series": {"Median wait": [41, 39, 40, 42, 41, 95, 88, 79, 70, 62]},
        "y0": 0,
        "tickfmt": "{:.0f}",
        "annotate": [(0, 0, "41", "above"), (0, 5, "95", "above"), (0, 9, "62", "above")],
    },
    # All stated.
    "alt-0321": {
        "kind": "bar",
        "title": "Greenhouse gas emissions by sector, city",
        "ylabel": "Share of emissions (%)",
        "labels": ["Transportation", "Buildings", "Waste", "Industry", "Other"],
        "values": [41, 35, 11, 9, 4],
        "fmt": "{:.0f}%",
        "tickfmt": "{:.0f}%",
    },
    # Stated: 140 in 2018, 410 by 2021, 2,260 in 2024. Filled in: 2019, 2020, 2022, 2023.
    "alt-0330": {
        "kind": "line",
        "title": "Public electric vehicle chargers in the region, 2018-2024",
        "ylabel": "Public chargers",
        "x": _years(2018, 2024),
        "series": {"Chargers": [140, 190, 280, 410, 880, 1520, 2260]},
        "y0": 0,
        "tickfmt": "{:,.0f}",
        "annotate": [(0, 0, "140", "above"), (0, 3, "410", "left"), (0, 6, "2,260", "left")],
    },
    # Stated: research Jan-Feb, design Feb-Apr, building Mar-May, testing May-Jun, three
    # milestones. Filled in: the milestones' names and dates.
    "alt-0333": {
        "kind": "gantt",
        "title": "Six-month project plan",
        "months": MONTHS[:6],
        "tasks": [("Research", 0, 2), ("Design", 1, 4), ("Building", 2, 5), ("Testing", 4, 6)],
        "milestones": [(2, "Research done"), (4, "Design signed off"), (6, "Launch")],
    },
    # All stated.
    "alt-0339": {
        "kind": "pie",
        "title": "Where first-year graduates were employed",
        "labels": [
            "Private sector",
            "Public sector",
            "Nonprofit",
            "Self-employed",
            "Further study",
            "Still seeking work",
        ],
        "values": [52, 21, 11, 7, 6, 3],
    },
    # Stated: Amsterdam near 35%, Copenhagen 26% -> 30%, Paris 3% -> 11%.
    # Filled in: the years in between.
    "alt-0344": {
        "kind": "line",
        "title": "Share of trips taken by bicycle in three cities, 2015-2024",
        "ylabel": "Trips by bicycle (%)",
        "x": _years(2015, 2024),
        "series": {
            "Amsterdam": [35, 36, 35, 34, 35, 36, 35, 35, 34, 35],
            "Copenhagen": [26, 26, 27, 27, 28, 28, 29, 29, 30, 30],
            "Paris": [3, 3, 4, 4, 5, 7, 8, 9, 10, 11],
        },
        "y0": 0,
        "xstep": 3,
        "tickfmt": "{:.0f}%",
        "annotate": [(2, 0, "3%", "above"), (2, 9, "11%", "above")],
    },
    # Stated: every industry improves, finance lowest in 2024 at 24%, up from 17%.
    # Filled in: the other four industries.
    "alt-0349": {
        "kind": "grouped",
        "title": "Women in senior roles by industry, 2015 and 2024",
        "ylabel": "Senior roles held by women (%)",
        "labels": ["Finance", "Technology", "Retail", "Healthcare", "Education"],
        "series": {"2015": [17, 20, 30, 38, 41], "2024": [24, 28, 37, 46, 48]},
        "fmt": "{:.0f}",
        "tickfmt": "{:.0f}%",
    },
    # Stated: 1.2 million in 2010 to 2.8 million in 2024, a dip to 0.9 million in 2020.
    # Filled in: the other years.
    "alt-0358": {
        "kind": "line",
        "title": "Annual visitors to the national park, 2010-2024",
        "ylabel": "Visitors (millions)",
        "x": _years(2010, 2024),
        "series": {
            "Visitors": [1.2, 1.3, 1.35, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0, 0.9, 2.1, 2.4, 2.6, 2.8]
        },
        "xstep": 2,
        "y0": 0,
        "tickfmt": "{:.1f}",
        "annotate": [(0, 0, "1.2", "above"), (0, 10, "0.9", "below"), (0, 14, "2.8", "above")],
    },
    # All stated.
    "alt-0366": {
        "kind": "bar",
        "title": "Books borrowed per month from our new seed library",
        "ylabel": "Books borrowed",
        "labels": ["January", "February", "March"],
        "values": [15, 42, 96],
        "fmt": "{:.0f}",
    },
    # Stated: 320 to 450 until 2022, then 610 in 2023 and 740 in 2024.
    # Filled in: which of 2018-2022 had which value in that range.
    "alt-0375": {
        "kind": "bar",
        "title": "Heat-related emergency room visits each summer, 2018-2024",
        "ylabel": "Emergency room visits",
        "labels": _years(2018, 2024),
        "values": [380, 320, 410, 450, 395, 610, 740],
        "fmt": "{:.0f}",
    },
    # Stated: the exponential curve starts below the linear line and overtakes it at about
    # the tenth step. Filled in: linear 100 per step, exponential doubling from 2.
    "alt-0381": {
        "kind": "line",
        "title": "Exponential and linear growth",
        "ylabel": "Value",
        "x": [str(step) for step in range(1, 13)],
        "series": {
            "Linear (+100 per step)": [100 * step for step in range(1, 13)],
            "Exponential (doubles each step)": [2**step for step in range(1, 13)],
        },
        "xlabel": "Step",
        "y0": 0,
        "tickfmt": "{:,.0f}",
    },
}
# fmt: on

# ------------------------------------------------------------------------------- drawing

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999999"]
INK = "#222222"
MUTED = "#555555"
GRID = "#E3E3E3"
AXIS = "#444444"


@cache
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _width(text: str, size: int) -> float:
    return font(size).getlength(text)


def _wrap(text: str, size: int, width: float) -> list[str]:
    """Words of ``text`` in lines no wider than ``width`` (a long word keeps its line)."""
    lines: list[str] = []
    for word in text.split():
        if lines and _width(f"{lines[-1]} {word}", size) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    size: int = 13,
    fill: str = INK,
    anchor: str = "la",
    halo: bool = False,
) -> None:
    """Text at ``xy``; ``halo`` clears a white box under it first (over lines and grids)."""
    at = (round(xy[0]), round(xy[1]))
    if halo:
        left, top, right, bottom = draw.textbbox(at, text, font=font(size), anchor=anchor)
        draw.rectangle((left - 2, top - 1, right + 2, bottom + 1), fill="white")
    draw.text(at, text, font=font(size), fill=fill, anchor=anchor)


def _lines(
    draw: ImageDraw.ImageDraw,
    x: float,
    y: float,
    lines: Sequence[str],
    size: int = 13,
    fill: str = INK,
    align: str = "m",
) -> float:
    """Lines from top ``y``, anchored left/middle/right at ``x``; returns the y below them."""
    step = round(size * 1.25)
    for line in lines:
        _text(draw, (x, y), line, size, fill, f"{align}a")
        y += step
    return y


def _vertical_text(img: Image.Image, x: int, y_mid: int, text: str, size: int = 13) -> None:
    """``text`` turned 90 degrees (reading upwards), centred on ``y_mid``, left edge at ``x``."""
    w = math.ceil(_width(text, size)) + 4
    h = size + 6
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).text((2, 2), text, font=font(size), fill=255)
    mask = mask.rotate(90, expand=True)
    img.paste(MUTED, (x, y_mid - mask.height // 2), mask)


def _balanced(text: str, size: int, width: float) -> list[str]:
    """Like ``_wrap``, but two lines are made about equally long."""
    lines = _wrap(text, size, width)
    if len(lines) != 2:
        return lines
    words = text.split()
    splits = [(" ".join(words[:k]), " ".join(words[k:])) for k in range(1, len(words))]
    fits = [pair for pair in splits if max(_width(t, size) for t in pair) <= width]
    return list(min(fits, key=lambda pair: max(_width(t, size) for t in pair)))


def _title(draw: ImageDraw.ImageDraw, spec: dict[str, Any]) -> int:
    y = _lines(draw, SIZE / 2, 14, _balanced(spec["title"], 19, SIZE - 40), 19)
    if spec.get("subtitle"):
        y = _lines(draw, SIZE / 2, y + 2, [spec["subtitle"]], 13, MUTED)
    return round(y) + 8


def _fmt(fmt: str, value: float) -> str:
    return fmt.format(0 if value == 0 else value).replace("+0.0", "0.0")


def nice_ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    """Round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten."""
    span = (hi - lo) or abs(hi) or 1.0
    mag = 10 ** math.floor(math.log10(span / n))
    step = next(m * mag for m in (1, 2, 5, 10) if span / (m * mag) <= n)
    first = math.floor(lo / step + 1e-9)
    last = math.ceil(hi / step - 1e-9)
    return [round(k * step, 10) for k in range(first, last + 1)]


def _legend(draw: ImageDraw.ImageDraw, top: int, items: Sequence[tuple[str, str]]) -> int:
    """Coloured squares with names, centred in rows under the title; returns the y below."""
    rows: list[list[tuple[str, str, float]]] = [[]]
    widths = [0.0]
    for colour, name in items:
        w = 14 + 5 + _width(name, 12) + 16
        if rows[-1] and widths[-1] + w > SIZE - 40:
            rows.append([])
            widths.append(0.0)
        rows[-1].append((colour, name, w))
        widths[-1] += w
    y = top
    for row, total in zip(rows, widths, strict=True):
        x = (SIZE - (total - 16)) / 2
        for colour, name, w in row:
            draw.rectangle((round(x), y + 1, round(x) + 12, y + 13), fill=colour)
            _text(draw, (x + 17, y + 7), name, 12, INK, "lm")
            x += w
        y += 20
    return y + 4


class ValueAxis:
    """A vertical value axis with gridlines over the plot box (x0, y0, x1, y1)."""

    def __init__(self, lo: float, hi: float, fmt: str, n: int = 6) -> None:
        self.ticks = nice_ticks(lo, hi, n)
        self.fmt = fmt
        self.labels = [_fmt(fmt, t) for t in self.ticks]

    def label_width(self) -> int:
        return math.ceil(max(_width(s, 12) for s in self.labels))

    def place(self, y0: int, y1: int) -> None:
        self.y0, self.y1 = y0, y1

    def y(self, value: float) -> float:
        lo, hi = self.ticks[0], self.ticks[-1]
        return self.y1 - (value - lo) / (hi - lo) * (self.y1 - self.y0)

    def draw(self, draw: ImageDraw.ImageDraw, x0: int, x1: int, zero: bool = False) -> None:
        for tick, label in zip(self.ticks, self.labels, strict=True):
            y = round(self.y(tick))
            strong = zero and tick == 0
            draw.line((x0, y, x1, y), fill=AXIS if strong else GRID, width=1)
            _text(draw, (x0 - 6, y), label, 12, MUTED, "rm")
        draw.line((x0, self.y0, x0, self.y1), fill=AXIS, width=1)


def _left_edge(axis: ValueAxis, ylabel: str | None) -> int:
    return (28 if ylabel else 10) + axis.label_width() + 8


def _frame(
    img: Image.Image,
    draw: ImageDraw.ImageDraw,
    spec: dict[str, Any],
    top: int,
    bottom: int,
    axis: ValueAxis,
    right: int = 22,
) -> tuple[int, int]:
    """Place and draw the value axis and its label; returns the plot's x0 and x1."""
    x0, x1 = _left_edge(axis, spec.get("ylabel")), SIZE - right
    axis.place(top, bottom)
    axis.draw(draw, x0, x1, zero=bool(spec.get("zero")))
    if spec.get("ylabel"):
        _vertical_text(img, 8, (top + bottom) // 2, spec["ylabel"])
    return x0, x1


def _category_labels(
    draw: ImageDraw.ImageDraw, centres: Sequence[float], labels: Sequence[str], band: float, y: int
) -> None:
    for cx, label in zip(centres, labels, strict=True):
        _lines(draw, cx, y, _wrap(label, 12, band - 4), 12)


def _label_rows(labels: Sequence[str], band: float) -> int:
    return max(len(_wrap(label, 12, band - 4)) for label in labels)


def _draw_bar(img: Image.Image, draw: ImageDraw.ImageDraw, spec: dict[str, Any], top: int) -> None:
    values, labels = spec["values"], spec["labels"]
    axis = ValueAxis(0, max(values) * 1.08, spec.get("tickfmt", spec["fmt"]))
    x0 = _left_edge(axis, spec.get("ylabel"))
    band = (SIZE - 22 - x0) / len(values)
    bottom = SIZE - 22 - 15 * _label_rows(labels, band)
    x0, x1 = _frame(img, draw, spec, top + 14, bottom, axis)
    if "target" in spec:  # a dotted line behind the bars, labelled at the left
        value, label = spec["target"]
        y = round(axis.y(value))
        for x in range(x0, x1, 8):
            draw.line((x, y, min(x + 3, x1), y), fill="#C62828", width=2)
        _text(draw, (x0 + 6, y - 5), label, 12, "#C62828", "ld", halo=True)
    for i, value in enumerate(values):
        cx = x0 + band * (i + 0.5)
        half = min(band * 0.32, 40)
        y = axis.y(value)
        draw.rectangle((round(cx - half), round(y), round(cx + half), bottom), fill=PALETTE[0])
        _text(draw, (cx, y - 3), _fmt(spec["fmt"], value), 12, INK, "md", halo="target" in spec)
    draw.line((x0, bottom, x1, bottom), fill=AXIS)
    _category_labels(
        draw, [x0 + band * (i + 0.5) for i in range(len(values))], labels, band, bottom + 6
    )


def _draw_grouped(
    img: Image.Image, draw: ImageDraw.ImageDraw, spec: dict[str, Any], top: int
) -> None:
    labels, series = spec["labels"], spec["series"]
    top = _legend(draw, top, [(PALETTE[i], name) for i, name in enumerate(series)])
    high = max(max(v) for v in series.values())
    axis = ValueAxis(0, high * 1.08, spec.get("tickfmt", spec["fmt"]))
    x0 = _left_edge(axis, spec.get("ylabel"))
    band = (SIZE - 22 - x0) / len(labels)
    bottom = SIZE - 22 - 15 * _label_rows(labels, band)
    x0, x1 = _frame(img, draw, spec, top + 10, bottom, axis)
    k = len(series)
    bar = band * 0.8 / k
    for i in range(len(labels)):
        left = x0 + band * i + band * 0.1
        for j, values in enumerate(series.values()):
            a, b = left + bar * j, left + bar * (j + 1) - 1
            y = axis.y(values[i])
            draw.rectangle((round(a), round(y), round(b), bottom), fill=PALETTE[j])
            _text(draw, ((a + b) / 2, y - 3), _fmt(spec["fmt"], values[i]), 11, INK, "md")
    draw.line((x0, bottom, x1, bottom), fill=AXIS)
    _category_labels(
        draw, [x0 + band * (i + 0.5) for i in range(len(labels))], labels, band, bottom + 6
    )


def _draw_stacked(
    img: Image.Image, draw: ImageDraw.ImageDraw, spec: dict[str, Any], top: int
) -> None:
    labels, series = spec["labels"], spec["series"]
    top = _legend(draw, top, [(PALETTE[i], name) for i, name in enumerate(series)])
    totals = [sum(v[i] for v in series.values()) for i in range(len(labels))]
    axis = ValueAxis(0, max(totals), spec.get("tickfmt", spec["fmt"]))
    bottom = SIZE - 40
    x0, x1 = _frame(img, draw, spec, top + 10, bottom, axis)
    band = (x1 - x0) / len(labels)
    for i, label in enumerate(labels):
        cx = x0 + band * (i + 0.5)
        base = 0.0
        for j, values in enumerate(series.values()):
            y_lo, y_hi = axis.y(base), axis.y(base + values[i])
            draw.rectangle(
                (round(cx - 55), round(y_hi), round(cx + 55), round(y_lo)), fill=PALETTE[j]
            )
            draw.line((round(cx - 55), round(y_hi), round(cx + 55), round(y_hi)), fill="white")
            text = _fmt(spec["fmt"], values[i])
            if y_lo - y_hi >= 15:
                colour = "white" if j in (0, 2) else INK
                _text(draw, (cx, (y_lo + y_hi) / 2), text, 12, colour, "mm")
            else:  # too thin for its label: write it beside the bar
                _text(draw, (cx + 61, (y_lo + y_hi) / 2), text, 12, INK, "lm")
            base += values[i]
        _text(draw, (cx, bottom + 8), label, 13, INK, "ma")
    draw.line((x0, bottom, x1, bottom), fill=AXIS)


def _draw_hbar(img: Image.Image, draw: ImageDraw.ImageDraw, spec: dict[str, Any], top: int) -> None:
    labels, values = spec["labels"], spec["values"]
    texts = spec.get("texts") or [_fmt(spec["fmt"], v) for v in values]
    bottom = SIZE - (46 if spec.get("footnote") else 24)
    x0 = 20 + math.ceil(max(_width(label, 13) for label in labels))
    x1 = SIZE - 24 - math.ceil(max(_width(t, 12) for t in texts))
    band = (bottom - top - 10) / len(values)
    high = max(values)
    y = top + 10.0
    for label, value, text in zip(labels, values, texts, strict=True):
        cy = y + band / 2
        half = min(band * 0.32, 16)
        end = x0 + (x1 - x0) * value / high
        draw.rectangle((x0, round(cy - half), round(end), round(cy + half)), fill=PALETTE[0])
        _text(draw, (x0 - 8, cy), label, 13, INK, "rm")
        _text(draw, (end + 6, cy), text, 12, INK, "lm")
        y += band
    draw.line((x0, top + 6, x0, bottom), fill=AXIS)
    if spec.get("footnote"):
        _lines(draw, SIZE / 2, SIZE - 32, [spec["footnote"]], 12, MUTED)


def _draw_line(img: Image.Image, draw: ImageDraw.ImageDraw, spec: dict[str, Any], top: int) -> None:
    xs, series = spec["x"], spec["series"]
    if len(series) > 1:
        top = _legend(draw, top, [(PALETTE[i], name) for i, name in enumerate(series)])
    values = [v for vs in series.values() for v in vs]
    lo = min(values) if spec.get("y0") is None else min(spec["y0"], *values)
    axis = ValueAxis(lo, max(values) * 1.04 if lo >= 0 else max(values), spec["tickfmt"])
    bottom = SIZE - (56 if spec.get("xlabel") else 40)
    x0, x1 = _frame(img, draw, spec, top + 10, bottom, axis)
    x0p, x1p = x0 + 14, x1 - 10
    n = len(xs)

    def px(i: float) -> float:
        return x0p + (x1p - x0p) * i / (n - 1)

    draw.line((x0, bottom, x1, bottom), fill=AXIS)
    step = spec.get("xstep", 1)
    for i in range(0, n, step):
        draw.line((round(px(i)), bottom, round(px(i)), bottom + 4), fill=AXIS)
        _text(draw, (px(i), bottom + 7), xs[i], 12, INK, "ma")
    if spec.get("xlabel"):
        _text(draw, ((x0 + x1) / 2, SIZE - 22), spec["xlabel"], 13, MUTED, "ma")
    if "marker" in spec:
        at, label = spec["marker"]
        x = round(px(at))
        for y in range(axis.y0, bottom, 8):
            draw.line((x, y, x, min(y + 3, bottom)), fill=MUTED, width=1)
        _text(draw, (x + 5, axis.y0 + 2), label, 12, MUTED, "la")
    for j, vs in enumerate(series.values()):
        points = [(round(px(i)), round(axis.y(v))) for i, v in enumerate(vs)]
        draw.line(points, fill=PALETTE[j], width=3, joint="curve")
        if n <= 16:
            for x, y in points:
                draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill=PALETTE[j], outline="white")
    for j, i, text, where in spec.get("annotate", []):
        x, y = px(i), axis.y(list(series.values())[j][i])
        offset = {
            "above": (0, -9, "md"),
            "below": (0, 9, "ma"),
            "left": (-9, 0, "rm"),
            "right": (9, 0, "lm"),
            "below right": (7, 6, "la"),
        }
        dx, dy, anchor = offset[where]
        _text(draw, (x + dx, y + dy), text, 12, INK, anchor)


def _draw_area(img: Image.Image, draw: ImageDraw.ImageDraw, spec: dict[str, Any], top: int) -> None:
    xs, series = spec["x"], spec["series"]
    top = _legend(draw, top, [(PALETTE[i], name) for i, name in enumerate(series)])
    axis = ValueAxis(0, 100, spec["tickfmt"])
    bottom = SIZE - 40
    x0, x1 = _frame(img, draw, spec, top + 10, bottom, axis)
    n = len(xs)

    def px(i: float) -> int:
        return round(x0 + (x1 - x0) * i / (n - 1))

    base = [0.0] * n
    for j, values in enumerate(series.values()):
        upper = [b + v for b, v in zip(base, values, strict=True)]
        outline = [(px(i), round(axis.y(u))) for i, u in enumerate(upper)]
        floor = [(px(i), round(axis.y(b))) for i, b in reversed(list(enumerate(base)))]
        draw.polygon(outline + floor, fill=PALETTE[j])
        draw.line(outline, fill="white", width=1)
        mid = (axis.y(base[-1]) + axis.y(upper[-1])) / 2
        if j in (0, 1, 4):
            text = f"{values[0]:.0f}% -> {values[-1]:.0f}%"
            colour = "white" if j in (0, 2) else INK
            _text(draw, (x1 - 6, mid), text, 12, colour, "rm")
        base = upper
    step = spec.get("xstep", 1)
    for i in range(0, n, step):
        draw.line((px(i), bottom, px(i), bottom + 4), fill=AXIS)
        _text(draw, (px(i), bottom + 7), xs[i], 12, INK, "ma")


def _slices(spec: dict[str, Any]) -> list[tuple[float, float]]:
    total = sum(spec["values"])
    angle, out = -90.0, []
    for value in spec["values"]:
        sweep = 360 * value / total
        out.append((angle, angle + sweep))
        angle += sweep
    return out


def _draw_pie(img: Image.Image, draw: ImageDraw.ImageDraw, spec: dict[str, Any], top: int) -> None:
    donut = spec["kind"] == "donut"
    labels, values = spec["labels"], spec["values"]
    radius = 148
    cx, cy = SIZE // 2, top + 6 + radius
    box = (cx - radius, cy - radius, cx + radius, cy + radius)
    for j, (start, end) in enumerate(_slices(spec)):
        draw.pieslice(box, start, end, fill=PALETTE[j], outline="white", width=2)
    for j, (start, end) in enumerate(_slices(spec)):
        if values[j] < 5:
            continue
        mid = math.radians((start + end) / 2)
        r = radius * (0.78 if donut else 0.66)
        colour = "white" if j in (0, 2, 5) else INK
        _text(
            draw,
            (cx + r * math.cos(mid), cy + r * math.sin(mid)),
            f"{values[j]}%",
            13,
            colour,
            "mm",
        )
    if donut:
        inner = radius * 0.55
        draw.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), fill="white")
        _text(draw, (cx, cy), spec.get("centre", ""), 15, INK, "mm")
    # Legend: two columns under the chart.
    y0 = cy + radius + 18
    half = (len(labels) + 1) // 2
    for j, (label, value) in enumerate(zip(labels, values, strict=True)):
        col, row = divmod(j, half)
        x = 40 + col * 236
        y = y0 + row * 21
        draw.rectangle((x, y + 1, x + 12, y + 13), fill=PALETTE[j])
        _text(draw, (x + 18, y + 7), f"{label} {value}%", 13, INK, "lm")


def _draw_stacked_hbar(
    img: Image.Image, draw: ImageDraw.ImageDraw, spec: dict[str, Any], top: int
) -> None:
    labels, values = spec["labels"], spec["values"]
    total = sum(values)
    x0, x1 = 30, SIZE - 30
    y0, y1 = top + 44, top + 134
    x = float(x0)
    for j, value in enumerate(values):
        end = x + (x1 - x0) * value / total
        draw.rectangle((round(x), y0, round(end), y1), fill=PALETTE[j], outline="white")
        if end - x >= 30:
            colour = "white" if j in (0, 2, 5) else INK
            _text(draw, ((x + end) / 2, (y0 + y1) / 2), f"{value}%", 13, colour, "mm")
        x = end
    _text(draw, (x0, y1 + 6), "0%", 12, MUTED, "la")
    _text(draw, (x1, y1 + 6), "100%", 12, MUTED, "ra")
    y = y1 + 50
    for j, (label, value) in enumerate(zip(labels, values, strict=True)):
        draw.rectangle((120, y + 2, 136, y + 18), fill=PALETTE[j])
        _text(draw, (146, y + 10), label, 14, INK, "lm")
        _text(draw, (392, y + 10), f"{value}%", 14, INK, "rm")
        y += 32


def _draw_bill(img: Image.Image, draw: ImageDraw.ImageDraw, spec: dict[str, Any], top: int) -> None:
    labels, values = spec["labels"], spec["values"]
    shades = ["#1B5E20", "#66BB6A", "#C5E1A5"]
    x0, x1, y0, y1 = 36, SIZE - 36, top + 36, top + 276
    draw.rectangle((x0 - 6, y0 - 6, x1 + 6, y1 + 6), fill="#E8F0E0", outline="#2E5E2E", width=3)
    x = float(x0)
    centres = []
    for j, value in enumerate(values):
        end = x + (x1 - x0) * value / 100
        draw.rectangle((round(x), y0, round(end), y1), fill=shades[j], outline="white", width=2)
        centres.append((x + end) / 2)
        x = end
    draw.ellipse(
        (centres[0] - 52, (y0 + y1) / 2 - 62, centres[0] + 52, (y0 + y1) / 2 + 62),
        outline="#A5D6A7",
        width=3,
    )
    _text(draw, (centres[0], (y0 + y1) / 2), "$1", 40, "white", "mm")
    for corner in ((x0 + 8, y0 + 6, "la"), (x1 - 8, y1 - 6, "rd")):
        _text(draw, corner[:2], "1", 20, "white" if corner[2] == "la" else INK, corner[2])
    slots = [SIZE * 0.2, SIZE * 0.55, SIZE * 0.84]
    for j, (label, value) in enumerate(zip(labels, values, strict=True)):
        sx, ly = slots[j], y1 + 40
        draw.line((round(centres[j]), y1 + 8, round(sx), ly - 6), fill=MUTED, width=1)
        _text(draw, (sx, ly), f"{value} cents", 22, INK, "ma")
        _text(draw, (sx, ly + 28), label.lower(), 14, MUTED, "ma")


def _draw_scatter(
    img: Image.Image, draw: ImageDraw.ImageDraw, spec: dict[str, Any], top: int
) -> None:
    points = spec["points"]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    axis = ValueAxis(min(ys) - 2, max(ys) + 2, spec["tickfmt"])
    bottom = SIZE - 58
    x0, x1 = _frame(img, draw, spec, top + 10, bottom, axis)
    xt = nice_ticks(min(xs) - 0.5, max(xs) + 0.5)

    def px(v: float) -> float:
        return x0 + (x1 - x0) * (v - xt[0]) / (xt[-1] - xt[0])

    for t in xt:
        draw.line((round(px(t)), bottom, round(px(t)), bottom + 4), fill=AXIS)
        _text(draw, (px(t), bottom + 7), _fmt(spec["xtickfmt"], t), 12, INK, "ma")
    draw.line((x0, bottom, x1, bottom), fill=AXIS)
    _text(draw, ((x0 + x1) / 2, SIZE - 26), spec["xlabel"], 13, MUTED, "ma")
    n = len(points)
    mx, my = sum(xs) / n, sum(ys) / n
    if spec.get("mean_line"):
        y = round(axis.y(my))
        for x in range(x0, x1, 8):
            draw.line((x, y, min(x + 3, x1), y), fill=MUTED)
        _text(draw, (x1 - 2, y - 3), f"Average {my:.0f}", 12, MUTED, "rd")
    for x, y in points:
        cx, cy = px(x), axis.y(y)
        draw.ellipse(
            (round(cx) - 4, round(cy) - 4, round(cx) + 4, round(cy) + 4),
            fill=PALETTE[0],
            outline="white",
        )
    if spec.get("trend"):
        sxy = sum((x - mx) * (y - my) for x, y in points)
        sxx = sum((x - mx) ** 2 for x in xs)
        syy = sum((y - my) ** 2 for y in ys)
        slope = sxy / sxx
        a, b = xt[0], xt[-1]
        line = [(px(a), axis.y(my + slope * (a - mx))), (px(b), axis.y(my + slope * (b - mx)))]
        draw.line([(round(x), round(y)) for x, y in line], fill="#D32F2F", width=3)
        r = sxy / math.sqrt(sxx * syy)
        _text(draw, (x0 + 12, axis.y0 + 8), f"r = {r:.2f}", 16, "#D32F2F", "la")


def _draw_box(img: Image.Image, draw: ImageDraw.ImageDraw, spec: dict[str, Any], top: int) -> None:
    labels, boxes = spec["labels"], spec["boxes"]
    axis = ValueAxis(0, 100, "{:.0f}")
    bottom = SIZE - 40
    x0, x1 = _frame(img, draw, spec, top + 10, bottom, axis)
    band = (x1 - x0) / len(boxes)
    for j, (low, q1, median, q3, high) in enumerate(boxes):
        cx = x0 + band * (j + 0.5)
        y = axis.y
        draw.line((round(cx), round(y(high)), round(cx), round(y(low))), fill=AXIS, width=2)
        for v in (low, high):
            draw.line(
                (round(cx - 16), round(y(v)), round(cx + 16), round(y(v))), fill=AXIS, width=2
            )
        draw.rectangle(
            (round(cx - 38), round(y(q3)), round(cx + 38), round(y(q1))),
            fill=PALETTE[j],
            outline=AXIS,
            width=2,
        )
        draw.line(
            (round(cx - 38), round(y(median)), round(cx + 38), round(y(median))),
            fill="white",
            width=3,
        )
        colour = INK if j == 1 else "white"
        _text(draw, (cx, y(median) - 4), f"median {median}", 11, colour, "md")
        _text(draw, (cx, y(high) - 4), str(high), 11, MUTED, "md")
        _text(draw, (cx, y(low) + 4), str(low), 11, MUTED, "ma")
        _text(draw, (cx, bottom + 8), labels[j], 13, INK, "ma")
    draw.line((x0, bottom, x1, bottom), fill=AXIS)


def _draw_sankey(
    img: Image.Image, draw: ImageDraw.ImageDraw, spec: dict[str, Any], top: int
) -> None:
    name, total = spec["source"]
    labels, values = spec["labels"], spec["values"]
    colours = ["#8D6E63", "#0072B2", "#009E73"]
    tints = ["#D7CCC8", "#B3D4EA", "#B2DFD0"]
    y0, height, gap = top + 40, 330, 24
    scale = height / total
    lx0, lx1, rx0, rx1 = 104, 126, 340, 362
    draw.rectangle((lx0, y0, lx1, round(y0 + height)), fill="#555555")
    _lines(draw, lx0 - 8, y0 + height / 2 - 18, [name, f"{total:,}", "tonnes"], 13, INK, "r")
    left, right = float(y0), float(y0 - gap * (len(values) - 1) / 2)
    for j, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = value * scale
        steps = 40
        top_edge, bottom_edge = [], []
        for k in range(steps + 1):
            t = k / steps
            s = t * t * (3 - 2 * t)  # smoothstep: a flow that leaves and arrives level
            x = lx1 + (rx0 - lx1) * t
            top_edge.append((round(x), round(left + (right - left) * s)))
            bottom_edge.append((round(x), round(left + h + (right - left) * s)))
        draw.polygon(top_edge + bottom_edge[::-1], fill=tints[j])
        draw.rectangle((rx0, round(right), rx1, round(right + h)), fill=colours[j])
        cy = right + h / 2
        _text(draw, (rx1 + 10, cy - 9), label, 14, INK, "lm")
        _text(
            draw, (rx1 + 10, cy + 9), f"{value:,} t ({100 * value / total:.0f}%)", 12, MUTED, "lm"
        )
        left += h
        right += h + gap


def _draw_gantt(
    img: Image.Image, draw: ImageDraw.ImageDraw, spec: dict[str, Any], top: int
) -> None:
    months, tasks, milestones = spec["months"], spec["tasks"], spec["milestones"]
    x0, x1 = 100, SIZE - 28
    col = (x1 - x0) / len(months)
    y0 = top + 16
    row = 60
    rows = len(tasks) + 1
    for i, month in enumerate(months):
        x = round(x0 + col * i)
        _text(draw, (x + col / 2, y0), month, 13, INK, "ma")
        draw.line((x, y0 + 22, x, y0 + 26 + row * rows), fill=GRID)
    draw.line((x1, y0 + 22, x1, y0 + 26 + row * rows), fill=GRID)
    y = y0 + 30
    for j, (task, start, end) in enumerate(tasks):
        _text(draw, (x0 - 10, y + row / 2 - 4), task, 13, INK, "rm")
        draw.rounded_rectangle(
            (round(x0 + col * start) + 3, y + 6, round(x0 + col * end) - 3, y + row - 14),
            radius=5,
            fill=PALETTE[j],
        )
        y += row
    _text(draw, (x0 - 10, y + row / 2 - 4), "Milestones", 13, INK, "rm")
    for k, (at, label) in enumerate(milestones):
        cx, cy = round(x0 + col * at), y + row // 2 - 4
        draw.polygon([(cx, cy - 11), (cx + 11, cy), (cx, cy + 11), (cx - 11, cy)], fill=INK)
        lines = _wrap(label, 12, col * 1.6)
        anchor = "r" if k == len(milestones) - 1 else "m"
        x = cx + 8 if anchor == "r" else cx
        _lines(draw, x, cy + 16, lines, 12, MUTED, anchor)


def _icon(draw: ImageDraw.ImageDraw, kind: str, cx: float, cy: float, colour: str) -> None:
    """A simple flat icon about 56 px across, centred on (cx, cy)."""
    x, y = round(cx), round(cy)
    if kind == "phone":
        draw.rounded_rectangle((x - 17, y - 28, x + 17, y + 28), radius=6, fill=colour)
        draw.rectangle((x - 12, y - 20, x + 12, y + 16), fill="white")
        draw.ellipse((x - 3, y + 19, x + 3, y + 25), fill="white")
    elif kind == "house":
        draw.polygon([(x - 30, y - 2), (x, y - 28), (x + 30, y - 2)], fill=colour)
        draw.rectangle((x - 22, y - 4, x + 22, y + 26), fill=colour)
        draw.rectangle((x - 6, y + 8, x + 6, y + 26), fill="white")
    elif kind == "smile":
        draw.ellipse((x - 28, y - 28, x + 28, y + 28), fill=colour)
        draw.ellipse((x - 13, y - 12, x - 5, y - 4), fill="white")
        draw.ellipse((x + 5, y - 12, x + 13, y - 4), fill="white")
        draw.arc((x - 16, y - 12, x + 16, y + 16), 20, 160, fill="white", width=4)
    elif kind == "cap":
        draw.polygon([(x - 32, y - 8), (x, y - 22), (x + 32, y - 8), (x, y + 6)], fill=colour)
        draw.rectangle((x - 18, y - 2, x + 18, y + 14), fill=colour)
        draw.line((x + 24, y - 6, x + 24, y + 18), fill=colour, width=3)
        draw.ellipse((x + 20, y + 16, x + 28, y + 24), fill=colour)
    elif kind == "plate":
        draw.ellipse((x - 24, y - 24, x + 24, y + 24), fill=colour)
        draw.ellipse((x - 15, y - 15, x + 15, y + 15), fill="white")
        draw.rectangle((x - 36, y - 24, x - 32, y + 24), fill=colour)
        draw.rectangle((x + 32, y - 24, x + 36, y + 24), fill=colour)
    elif kind == "family":
        for dx, scale in ((-18, 1.0), (18, 1.0), (0, 0.65)):
            head = 8 * scale
            top = y - 24 + (1 - scale) * 30
            draw.ellipse((x + dx - head, top, x + dx + head, top + 2 * head), fill=colour)
            body = (x + dx - 11 * scale, top + 2 * head + 3, x + dx + 11 * scale, y + 28)
            draw.rounded_rectangle(tuple(round(v) for v in body), radius=5, fill=colour)
    elif kind == "heart":
        draw.ellipse((x - 28, y - 24, x + 2, y + 6), fill=colour)
        draw.ellipse((x - 2, y - 24, x + 28, y + 6), fill=colour)
        draw.polygon([(x - 27, y - 3), (x + 27, y - 3), (x, y + 27)], fill=colour)
    elif kind == "school":
        draw.polygon([(x - 30, y - 6), (x, y - 22), (x + 30, y - 6)], fill=colour)
        draw.rectangle((x - 26, y - 6, x + 26, y + 26), fill=colour)
        for dx in (-16, 0, 16):
            draw.rectangle((x + dx - 4, y + 2, x + dx + 4, y + 12), fill="white")
        draw.line((x, y - 22, x, y - 34), fill=colour, width=2)
        draw.polygon([(x, y - 34), (x + 12, y - 30), (x, y - 26)], fill=colour)


def _draw_figures(
    img: Image.Image, draw: ImageDraw.ImageDraw, spec: dict[str, Any], top: int
) -> None:
    colour, figures = spec["colour"], spec["figures"]
    if spec.get("row"):  # four across the page, the figure above its icon
        width = (SIZE - 16) / len(figures)
        for i, (number, label, icon) in enumerate(figures):
            cx = 8 + width * (i + 0.5)
            _text(draw, (cx, top + 170), number, 30, INK, "ms")
            _lines(draw, cx, top + 182, _wrap(label, 13, width - 10), 13, MUTED)
            _icon(draw, icon, cx, top + 290, colour)
        return
    cells = [(SIZE * 0.27, top + 40), (SIZE * 0.73, top + 40)]
    cells += [(SIZE * 0.27, top + 240), (SIZE * 0.73, top + 240)]
    for (cx, cy), (number, label, icon) in zip(cells, figures, strict=True):
        _icon(draw, icon, cx, cy + 36, colour)
        _text(draw, (cx, cy + 112), number, 30, INK, "ms")
        _lines(draw, cx, cy + 124, _wrap(label, 14, 200), 14, MUTED)


DRAWERS: dict[str, Callable[[Image.Image, ImageDraw.ImageDraw, dict[str, Any], int], None]] = {
    "bar": _draw_bar,
    "grouped": _draw_grouped,
    "stacked": _draw_stacked,
    "hbar": _draw_hbar,
    "stacked_hbar": _draw_stacked_hbar,
    "bill": _draw_bill,
    "line": _draw_line,
    "area": _draw_area,
    "pie": _draw_pie,
    "donut": _draw_pie,
    "scatter": _draw_scatter,
    "box": _draw_box,
    "sankey": _draw_sankey,
    "gantt": _draw_gantt,
    "figures": _draw_figures,
}


def draw_chart(alt_id: str) -> Image.Image:
    """The chart that alt text ``alt_id`` describes, as a 512x512 RGB image."""
    spec = CHARTS[alt_id]
    img = Image.new("RGB", (SIZE, SIZE), "white")
    draw = ImageDraw.Draw(img)
    top = _title(draw, spec)
    DRAWERS[spec["kind"]](img, draw, spec, top)
    return img


def save_chart(alt_id: str, folder: Path = IMAGES) -> Path:
    """Draw ``alt_id``'s chart into ``folder/<alt_id>.png`` and return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{alt_id}.png"
    draw_chart(alt_id).save(path, format="PNG", optimize=True)
    return path


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=IMAGES, help="folder for the PNGs")
    parser.add_argument("ids", nargs="*", help="alt_ids to draw (default: all)")
    args = parser.parse_args(argv)
    total = 0
    for alt_id in args.ids or sorted(CHARTS):
        total += save_chart(alt_id, args.out).stat().st_size
    print(f"{len(args.ids or CHARTS)} charts, {total / 1024:.0f} KiB, in {args.out}")


if __name__ == "__main__":
    main()
