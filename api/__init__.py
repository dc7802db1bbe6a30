"""credgraph.api"""
