"""binfut: the Binance USD-M Futures toolkit."""
