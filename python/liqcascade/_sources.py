"""Where the 10 October 2025 presets' inputs come from (scenarios.py's one-market preset and
venue_preset.py's venue): one table both read, so that neither imports the other."""

from __future__ import annotations

#: What is public about the night of 10 October 2025, each figure with its source (retrieved
#: through the project's web corpus; docs/design.md, "10 October 2025", says how each is used).
OCTOBER_10_2025_SOURCES: dict[str, str] = {
    "trigger": "US 100 % tariff on Chinese imports posted on Truth Social; threat 14:57 UTC, confirmation about "
               "20:50 UTC, when the cascade began (Amberdata, 'How $3.21B vanished in 60 seconds', "
               "blog.amberdata.io; Binance Square recaps)",
    "btc_before": "BTC near its $122,574 high earlier that day, ~$117,000 when the cascade began (Binance Square "
                  "recap of CoinGlass data; generallink.top summary of Amberdata)",
    "btc_low": "BTC low $104,782 on aggregate feeds (CoinGlass via ainvest.com), ~$101,389 on Binance's perpetual "
               "(Binance Square recap): -14.5 % and -17.3 % from $122,574; 'BTC -12 % within hours'",
    "liquidated_total": "$19.1-19.3B liquidated across venues in 24 h, 1.6 million accounts (CoinGlass, cited by "
                        "Bloomberg, Cointelegraph, ainvest.com)",
    "liquidated_btc": "about $5B of it in BTC, $4B ETH, $2B SOL (CoinGlass via ainvest.com)",
    "first_hour": "$6.93B of the $9.89B Amberdata tracked over 14 h liquidated in the 40 minutes from 20:50 UTC "
                  "(70 %); $3.21B in the peak minute, 21:15 UTC; 83.9 % of it longs (Amberdata)",
    "btc_open_interest": "BTC perpetual open interest fell ~18.6 %, nearly 50,000 BTC, that day (Binance Square "
                         "recap): ~270,000 BTC, ~$31.5B at $117,000, before",
    "liquidity": "order-book liquidity collapsed and spreads widened (Amberdata; Rena Labs / Cointelegraph on "
                 "USDe/USDT: $89M -> $2M of depth, USDe at $0.68 on Binance's own book)",
    "collateral": "Binance priced USDe, wBETH and bnSOL collateral on its own order books (Cointelegraph, "
                  "Rena Labs): a many-markets mechanism, not in this one-market preset",
}
