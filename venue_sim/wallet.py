"""Binance's wallet API (/sapi), the reads copiers and ccxt make: system status, coins and
networks (capital/config/getall), deposit and withdrawal history, trade fees, account status
and API key restrictions. A deposit is what funded the spot account (Simulator.create_account,
fund); the venue never withdraws."""

from __future__ import annotations

import hashlib

from venue_sim import wire
from venue_sim.book import ZERO, ApiKey, Exchange
from venue_sim.endpoints import Endpoint, int_param

DAY_MS = 86_400_000


class WalletApi:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    def endpoints(self) -> list[Endpoint]:
        signed = [("/sapi/v1/capital/config/getall", self.coins, 10),
                  ("/sapi/v1/capital/deposit/hisrec", self.deposits, 1),
                  ("/sapi/v1/capital/withdraw/history", self.withdrawals, 1),
                  ("/sapi/v1/asset/tradeFee", self.trade_fee, 1), ("/sapi/v1/account/status", self.status, 1),
                  ("/sapi/v1/account/apiRestrictions", self.restrictions, 1)]
        return [Endpoint("GET", "/sapi/v1/system/status", self.system_status),
                *(Endpoint("GET", path, handler, signed=True, weight=w) for path, handler, w in signed)]

    def _assets(self) -> list[str]:
        return sorted({a for s in self.exchange.symbols.values() for a in (s.base, s.quote)})

    async def system_status(self, key, params) -> dict:
        return {"status": 0, "msg": "normal"}

    async def coins(self, key: ApiKey, params) -> list:
        account = key.account
        return [{"coin": coin, "name": coin, "depositAllEnable": True, "withdrawAllEnable": True,
                 "free": wire.d8(account.balances.get(coin, ZERO)), "locked": wire.d8(account.locked.get(coin, ZERO)),
                 "freeze": "0", "withdrawing": "0", "ipoing": "0", "ipoable": "0", "storage": "0",
                 "isLegalMoney": False, "trading": True,
                 "networkList": [{"network": coin, "coin": coin, "name": coin, "isDefault": True, "depositEnable": True,
                                  "withdrawEnable": True, "depositDesc": "", "withdrawDesc": "", "specialTips": "",
                                  "resetAddressStatus": False, "addressRegex": "", "memoRegex": "",
                                  "withdrawFee": "0", "withdrawMin": "0", "withdrawMax": "9999999999",
                                  "withdrawIntegerMultiple": "0.00000001", "minConfirm": 1, "unLockConfirm": 0,
                                  "sameAddress": False, "estimatedArrivalTime": 1, "busy": False}]}
                for coin in self._assets()]

    async def deposits(self, key: ApiKey, params) -> list:
        """Newest first, within [startTime, endTime] (the last 90 days unless told), as Binance."""
        now = self.exchange.now_ms()
        end = int_param(params, "endTime", now)
        start = int_param(params, "startTime", end - 90 * DAY_MS)
        limit = max(1, min(int_param(params, "limit", 1000), 1000))
        offset = int_param(params, "offset", 0)
        coin = params.get("coin") or None
        rows = [(ms, asset, amount) for ms, asset, amount in key.account.deposits
                if start <= ms <= end and coin in (None, asset)]
        rows.sort(key=lambda r: r[0], reverse=True)
        return [self._deposit(key, n, *row) for n, row in enumerate(rows)][offset:offset + limit]

    @staticmethod
    def _deposit(key: ApiKey, n: int, ms: int, asset: str, amount) -> dict:
        tx = hashlib.sha256(f"{key.account.name}:{ms}:{asset}:{amount}".encode()).hexdigest()
        return {"id": str(int(tx[:12], 16)), "amount": wire.fx(amount), "coin": asset, "network": asset,
                "status": 1, "address": f"sim-{key.account.name}", "addressTag": "", "txId": tx, "insertTime": ms,
                "completeTime": ms, "transferType": 0, "confirmTimes": "1/1", "unlockConfirm": 0, "walletType": 0}

    async def withdrawals(self, key: ApiKey, params) -> list:
        return []

    async def trade_fee(self, key: ApiKey, params) -> list:
        rate = wire.d8(self.exchange.fee_rate)
        wanted = params.get("symbol") or None
        return [{"symbol": s, "makerCommission": rate, "takerCommission": rate}
                for s in self.exchange.symbols if wanted in (None, s)]

    async def status(self, key: ApiKey, params) -> dict:
        return {"data": "Normal"}

    async def restrictions(self, key: ApiKey, params) -> dict:
        return {"ipRestrict": False, "createTime": 0, "enableReading": True,
                "enableSpotAndMarginTrading": key.can_trade,
                "enableFutures": key.can_trade, "enableWithdrawals": False, "enableInternalTransfer": False,
                "enableMargin": False, "permitsUniversalTransfer": False, "enableVanillaOptions": False,
                "enablePortfolioMarginTrading": False}
