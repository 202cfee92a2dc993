"""A local stand-in for the parts of LINE the service uses (Messaging API, webhooks, LIFF verify)."""

from .app import SimServer, create_sim_app, run_sim, serve_in_thread, templates_dir
from .core import LineSim
from .signing import sign_body

__all__ = ["LineSim", "SimServer", "create_sim_app", "run_sim", "serve_in_thread", "sign_body",
           "templates_dir"]
