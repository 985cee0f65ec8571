"""Market-stream payloads as Binance documents and sends them, shared by the protocol and emulator tests.

``DOCUMENTED``: the examples of the USD-M "Websocket Market Streams" pages (``shared/seeds/002_*``), one per
event type, comments and trailing commas removed. ``RECORDED``: live fstream frames (``shared/realdata``:
cryptofeed's 2021 capture, hftbacktest's 2024 BTCUSDT capture), including ``trade``, which the pages omit.
"""

from __future__ import annotations

DOCUMENTED = {
    "aggTrade": '{"e":"aggTrade","E":123456789,"s":"BTCUSDT","a":5933014,"p":"0.001","q":"100","f":100,"l":105,'
    '"T":123456785,"m":true}',
    "markPriceUpdate": '{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000",'
    '"i":"11784.62659091","P":"11784.25641265","r":"0.00038167","T":1562306400000}',
    "kline": '{"e":"kline","E":1638747660000,"s":"BTCUSDT","k":{"t":1638747660000,"T":1638747719999,"s":"BTCUSDT",'
    '"i":"1m","f":100,"L":200,"o":"0.0010","c":"0.0020","h":"0.0025","l":"0.0015","v":"1000","n":100,"x":false,'
    '"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}',
    "continuous_kline": '{"e":"continuous_kline","E":1607443058651,"ps":"BTCUSDT","ct":"PERPETUAL","k":{"t":1607443020000,'
    '"T":1607443079999,"i":"1m","f":116467658886,"L":116468012423,"o":"18787.00","c":"18804.04","h":"18804.04",'
    '"l":"18786.54","v":"197.664","n":543,"x":false,"q":"3715253.19494","V":"184.769","Q":"3472925.84746","B":"0"}}',
    "24hrMiniTicker": '{"e":"24hrMiniTicker","E":123456789,"s":"BTCUSDT","c":"0.0025","o":"0.0010","h":"0.0025",'
    '"l":"0.0010","v":"10000","q":"18"}',
    "24hrTicker": '{"e":"24hrTicker","E":123456789,"s":"BTCUSDT","p":"0.0015","P":"250.00","w":"0.0018","c":"0.0025",'
    '"Q":"10","o":"0.0010","h":"0.0025","l":"0.0010","v":"10000","q":"18","O":0,"C":86400000,"F":0,"L":18150,"n":18151}',
    "bookTicker": '{"e":"bookTicker","u":400900217,"E":1568014460893,"T":1568014460891,"s":"BNBUSDT",'
    '"b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}',
    "forceOrder": '{"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.014",'
    '"p":"9910","ap":"9910","X":"FILLED","l":"0.014","z":"0.014","T":1568014460893}}',
    "depthUpdate": '{"e":"depthUpdate","E":123456789,"T":123456788,"s":"BTCUSDT","U":157,"u":160,"pu":149,'
    '"b":[["0.0024","10"]],"a":[["0.0026","100"]]}',
}

# Live frames as sent, byte for byte (their key order included).
RECORDED = [
    b'{"e":"aggTrade","E":1626992741575,"a":16599292,"s":"CTKUSDT","p":"1.01100","q":"10","f":23961322,'
    b'"l":23961322,"T":1626992741421,"m":false}',
    b'{"e":"kline","E":1626992741424,"s":"CTKUSDT","k":{"t":1626992700000,"T":1626992759999,"s":"CTKUSDT","i":"1m",'
    b'"f":23961275,"L":23961322,"o":"1.01000","c":"1.01100","h":"1.01100","l":"1.01000","v":"3917","n":48,"x":false,'
    b'"q":"3957.89900","V":"1729","Q":"1748.01900","B":"0"}}',
    b'{"e":"bookTicker","u":600859600576,"s":"SUSHIUSDT","b":"7.6110","B":"2","a":"7.6120","A":"297",'
    b'"T":1626992741012,"E":1626992741017}',
    b'{"e":"trade","E":1721347022956,"T":1721347022956,"s":"BTCUSDT","t":5182005737,"p":"63943.90","q":"0.003",'
    b'"X":"MARKET","m":true}',
    b'{"e":"depthUpdate","E":1626992741037,"T":1626992741024,"s":"SUSHIUSDT","U":600859599090,"u":600859600917,'
    b'"pu":600859598061,"b":[["7.5040","813"],["7.6090","0"],["7.6110","2"]],"a":[["7.6150","1563"],["7.6220","3284"]]}',
]
