"""The outbox: notices and deliveries (enqueue), message templates, the dispatcher, /r/ links."""
