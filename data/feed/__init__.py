"""Live market feeds: the pump.fun websocket feed, its wire format and a recorded-feed server."""
