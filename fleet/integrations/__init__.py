"""Order intake from shops (WooCommerce webhooks, PrinterCo-style form posts) and the write-back of decisions."""
