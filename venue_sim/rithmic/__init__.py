"""A loopback Rithmic R|Protocol server for async_rithmic: WebSocket, binary frames of a 4-byte
big-endian length and a protobuf message, built from the *_pb2 modules async_rithmic ships.

    sim = await RithmicSim(user="trader", password="pw", prices={"ES": "5000"}).start()   # sim.url: ws://...
    client = RithmicClient(user="trader", password="pw", system_name=sim.system_name, app_name="copytrade",
                           app_version="1", url=sim.url); client.ssl_context = None
"""

from venue_sim.rithmic.server import RithmicSim

__all__ = ["RithmicSim"]
