"""Plotly figures of the leaderboard app: curves with confidence bands, sweeps with the bound."""

from __future__ import annotations

import math
from typing import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from theorybench import views

PALETTE = qualitative.Plotly
BOUND_COLOR = "black"
LEGEND_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.18, "xanchor": "left", "x": 0}


def _rgba(color: str, alpha: float) -> str:
    color = color.lstrip("#")
    red, green, blue = (int(color[index:index + 2], 16) for index in (0, 2, 4))
    return f"rgba({red},{green},{blue},{alpha})"


def _colors(implementations: Sequence[str]) -> dict[str, str]:
    return {name: PALETTE[index % len(PALETTE)] for index, name in enumerate(sorted(implementations))}


def _add_band(figure: go.Figure, frame: pd.DataFrame, name: str, color: str, dash: str = "solid", group: str = "") -> None:
    """Add a line with a filled band between `low` and `high` to `figure`."""
    legend_group = f"{name}{group}"
    band = frame.dropna(subset=["low", "high"])
    if len(band):
        figure.add_trace(go.Scatter(
            x=list(band["x"]) + list(band["x"])[::-1],
            y=list(band["high"]) + list(band["low"])[::-1],
            fill="toself", fillcolor=_rgba(color, 0.18), line={"width": 0}, hoverinfo="skip",
            showlegend=False, legendgroup=legend_group, name=f"{name} band",
        ))
    figure.add_trace(go.Scatter(
        x=frame["x"], y=frame["y"], mode="lines+markers" if len(frame) < 30 else "lines",
        line={"color": color, "dash": dash}, name=f"{name}{group}", legendgroup=legend_group,
        customdata=frame[["low", "high", "trials"]].to_numpy(),
        hovertemplate="%{x:.4g}: %{y:.4g} [%{customdata[0]:.4g}, %{customdata[1]:.4g}], %{customdata[2]} trials",
    ))


def curve_figure(
    bands: pd.DataFrame, title: str, x_label: str, y_label: str, bound: float | None = None,
    markers: pd.DataFrame | None = None, marker_label: str = "",
) -> go.Figure:
    """Return a figure of one stored curve: one line per implementation with its band.

    `bound` is drawn as a dashed vertical line when it falls inside the x range (a budget such as
    oracle calls or samples); `markers` (columns implementation, value) are drawn as dotted
    vertical lines in each implementation's colour, for a per-implementation figure such as n*.
    """
    figure = go.Figure()
    colors = _colors(bands["implementation"].unique())
    for implementation, frame in bands.groupby("implementation", sort=True):
        _add_band(figure, frame, implementation, colors[implementation])
    log_x = views.log_axis(bands["x"])
    log_y = views.log_axis(pd.concat([bands["y"], bands["low"], bands["high"]]))
    x_values = bands["x"].astype(float)
    if bound is not None and math.isfinite(bound) and len(x_values) and x_values.min() <= bound <= x_values.max():
        figure.add_vline(x=bound, line={"color": BOUND_COLOR, "dash": "dash"},
                         annotation_text=f"bound {bound:.4g}", annotation_position="top right")
        figure.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line={"color": BOUND_COLOR, "dash": "dash"},
                                    name="bound"))
    if markers is not None:
        for row in markers.itertuples():
            if row.implementation in colors and math.isfinite(row.value) and x_values.min() <= row.value <= x_values.max():
                figure.add_vline(x=row.value, line={"color": colors[row.implementation], "dash": "dot"},
                                 annotation_text=f"{marker_label} {row.implementation}", annotation_position="bottom right")
    figure.update_layout(
        title=title, xaxis_title=x_label, yaxis_title=y_label, legend=LEGEND_BELOW,
        margin={"l": 10, "r": 10, "t": 50, "b": 10}, height=440,
    )
    figure.update_xaxes(type="log" if log_x else "linear")
    figure.update_yaxes(type="log" if log_y else "linear")
    return figure


def sweep_figure(sweep: pd.DataFrame, title: str, x_label: str, y_label: str, draw_bound: bool) -> go.Figure:
    """Return `metric` against a parameter across instances, one line per (implementation, group),
    with the bound as a dashed black line per group and its regime changes marked."""
    figure = go.Figure()
    colors = _colors(sweep["implementation"].unique())
    dashes = ["solid", "dot", "dashdot", "longdash", "longdashdot"]
    groups = sorted(sweep["group"].unique())
    for group_index, group in enumerate(groups):
        subset = sweep[sweep["group"] == group]
        suffix = f" ({group})" if group else ""
        for implementation, frame in subset.groupby("implementation", sort=True):
            _add_band(figure, frame.sort_values("x"), implementation, colors[implementation],
                      dash=dashes[group_index % len(dashes)], group=suffix)
        if not draw_bound:
            continue
        bound = subset.drop_duplicates("x").sort_values("x")
        bound = bound[bound["bound"].notna()]
        if bound.empty:
            continue
        figure.add_trace(go.Scatter(
            x=bound["x"], y=bound["bound"], mode="lines", line={"color": BOUND_COLOR, "dash": "dash"},
            name=f"bound{suffix}", hovertemplate="bound %{x:.4g}: %{y:.4g}",
        ))
        for change in views.regime_changes(bound["x"], bound["bound"]):
            figure.add_vline(x=change, line={"color": "grey", "dash": "dot"},
                             annotation_text=f"bound regime change{suffix}", annotation_position="top left")
    values = pd.concat([sweep["y"], sweep["bound"]]) if draw_bound else sweep["y"]
    figure.update_xaxes(type="log" if views.log_axis(sweep["x"]) else "linear")
    figure.update_yaxes(type="log" if views.log_axis(values) else "linear")
    figure.update_layout(
        title=title, xaxis_title=x_label, yaxis_title=y_label, legend=LEGEND_BELOW,
        margin={"l": 10, "r": 10, "t": 50, "b": 10}, height=480,
    )
    return figure


def history_figure(history: pd.DataFrame, title: str) -> go.Figure:
    """Return the score metric over commits, one line per (task, tier, device)."""
    figure = go.Figure()
    for (task, tier, device), frame in history.groupby(["task", "tier", "device"], sort=True):
        figure.add_trace(go.Scatter(
            x=frame["first_seen"], y=frame["value"], mode="lines+markers", name=f"{task} ({tier}, {device})",
            customdata=frame[["git_commit", "metric"]].to_numpy(),
            hovertemplate="%{customdata[1]} = %{y:.4g}<br>commit %{customdata[0]}",
        ))
    figure.update_layout(title=title, xaxis_title="first result of the commit", yaxis_title="score metric (median)",
                         legend=LEGEND_BELOW, margin={"l": 10, "r": 10, "t": 50, "b": 10}, height=380)
    return figure
