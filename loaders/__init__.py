"""credgraph.loaders"""
