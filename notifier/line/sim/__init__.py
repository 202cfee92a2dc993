"""A local stand-in for the parts of LINE the service uses (Messaging API, webhooks, LIFF verify).

`app.create_sim_app` / `app.serve_in_thread` run it; `core.LineSim` holds its state; `signing`
signs webhook bodies and ID tokens as LINE does.
"""

# The LIFF login channel the simulator issues ID tokens for unless told otherwise.
DEFAULT_LOGIN_CHANNEL_ID = "1234567890"
