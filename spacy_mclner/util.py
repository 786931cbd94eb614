"""Matplotlib for the PNG charts that reports write, on machines without a display."""
from types import ModuleType


def headless_pyplot() -> ModuleType:
    """matplotlib.pyplot on the Agg backend, imported only when a chart is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot
