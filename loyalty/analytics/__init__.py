"""Program analytics: set-based aggregations, daily rollups and the dashboard."""
