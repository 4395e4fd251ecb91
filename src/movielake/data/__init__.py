"""The data and where it lives: the MovieLens releases and their file layouts (`releases`),
fetching them (`fetch`), generating MovieLens-shaped releases (`synthetic`), the data home and
warehouse locations (`paths`), dbt vars (`dbt_vars`) and model settings (`settings`).

May import: the standard library, numpy/pandas and `movielake.errors`. No other layer.
"""
