"""Looking inside: autograd graphs as Graphviz DOT, feature maps, filters, saliency and Grad-CAM.

Plotting needs matplotlib; rendering graphs to SVG/PNG needs the Graphviz `dot` program."""
from .graph import make_dot, render_graph, save_graph
from .features import feature_maps, plot_feature_maps, plot_filters
from .saliency import saliency, grad_cam, plot_heatmap

__all__ = ["make_dot", "render_graph", "save_graph", "feature_maps", "plot_feature_maps",
           "plot_filters", "saliency", "grad_cam", "plot_heatmap"]
