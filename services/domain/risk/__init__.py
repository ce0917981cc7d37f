"""The pre-trade risk decision (checks) and the risk limits it applies (limits): risk's service
decides with them, discovery's preview replays a master's fills through them."""
