"""credgraph.queries"""
