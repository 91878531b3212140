"""Shipping: the shipment gate, money, orders, packing, labels and printing."""
