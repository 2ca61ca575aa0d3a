"""The browser app's drawing (app.py at the top level serves it): the trade-graph
painter (`graph`), the series panels and ledger (`panels`), and what one Step costs
(`timing`)."""
