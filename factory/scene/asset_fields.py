"""The value types of the config's asset fields (:mod:`factory.scene.config`).

A shape the assets layer makes per object is ``gen:<generator>`` or ``pack:<pack>`` (of
``assets.packs``); that the generator or pack exists is checked when
:class:`factory.assets.catalog.Catalog` is made, before any sample.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field

ASSET_SHAPE = re.compile(r"(gen|pack):[a-z0-9][a-z0-9_.-]{0,62}")
ASSET_SHAPES_SHOWN = "gen:<generator>, pack:<pack>"
SPLITS = ("train", "test", "all")

Finite = Annotated[float, Field(allow_inf_nan=False)]
Override = Finite | tuple[Finite, Finite]  # a generator param held constant, or its [low, high]
