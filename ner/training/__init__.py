"""The training wing: corpora and annotation formats, lexicons, batches, the network, scoring, training loops.

Needs the ``train`` extra (torch, gensim, jieba); ``import ner`` never imports it.
"""
