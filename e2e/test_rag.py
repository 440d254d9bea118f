"""The RAG integrations people use, installed from PyPI and run against Quarry: LangChain's
`langchain-milvus` and LlamaIndex's `llama-index-vector-stores-milvus`, each in its dense, BM25
(full-text, through Milvus's BM25 function) and hybrid modes, with a deterministic embedding
stand-in (no model download). Runs in the virtualenv of `make e2e-rag` (pymilvus 2.5 beside
them: their releases that install here fail with pymilvus 2.6 against any server); skipped
elsewhere."""
import pytest

TEXTS = ["the cat sat on the mat", "dogs chase cats", "quarry is a vector database",
         "milvus speaks grpc", "full text search with bm25", "a database of vectors and text"]


def test_langchain_dense_bm25_and_hybrid(server):
    pytest.importorskip("langchain_milvus")
    from langchain_core.documents import Document
    from langchain_core.embeddings import DeterministicFakeEmbedding
    from langchain_milvus import BM25BuiltInFunction, Milvus

    emb = DeterministicFakeEmbedding(size=16)
    docs = [Document(page_content=t, metadata={"n": i}) for i, t in enumerate(TEXTS)]
    args = {"uri": server.uri}
    dense = Milvus.from_documents(docs, emb, connection_args=args, collection_name="lc_dense",
                                  drop_old=True)
    # the fake embedding of a text is its own vector: a document finds itself first
    for t in TEXTS[:3]:
        assert dense.similarity_search(t, k=2)[0].page_content == t
    got = dense.similarity_search(TEXTS[1], k=6, expr="n >= 3")
    assert got and all(d.metadata["n"] >= 3 for d in got)

    bm25 = Milvus.from_documents(docs, embedding=None, builtin_function=BM25BuiltInFunction(),
                                 vector_field="sparse", connection_args=args,
                                 collection_name="lc_bm25", drop_old=True)
    got = [d.page_content for d in bm25.similarity_search("vector database", k=4)]
    # the two texts holding both words first, then none without either word
    assert set(got[:1]) <= {TEXTS[2], TEXTS[5]} and set(got) == {TEXTS[2], TEXTS[5]}
    assert bm25.similarity_search("zebra", k=3) == []

    hybrid = Milvus.from_documents(docs, embedding=emb, builtin_function=BM25BuiltInFunction(),
                                   vector_field=["dense", "sparse"], connection_args=args,
                                   collection_name="lc_hybrid", drop_old=True)
    got = hybrid.similarity_search(TEXTS[4], k=3, ranker_type="rrf", ranker_params={"k": 60})
    assert got[0].page_content == TEXTS[4]
    got = hybrid.similarity_search(TEXTS[4], k=3, ranker_type="weighted",
                                   ranker_params={"weights": [0.5, 0.5]})
    assert got[0].page_content == TEXTS[4]
    # documents added later and deleted by id
    ids = hybrid.add_texts(["zebra stripes"], metadatas=[{"n": 99}])
    assert hybrid.similarity_search("zebra", k=1)[0].page_content == "zebra stripes"
    hybrid.delete(ids=ids)
    assert all(d.page_content != "zebra stripes" for d in hybrid.similarity_search("zebra", k=3))


def test_llamaindex_dense_bm25_and_hybrid(server):
    pytest.importorskip("llama_index.vector_stores.milvus")
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores.types import (ExactMatchFilter, MetadataFilters,
                                                      VectorStoreQuery, VectorStoreQueryMode)
    from llama_index.vector_stores.milvus import MilvusVectorStore
    from llama_index.vector_stores.milvus.utils import BM25BuiltInFunction

    def emb(i):
        return [float((i * 7 + j) % 5) / 5 + (0.5 if j == i else 0.0) for j in range(8)]

    nodes = [TextNode(text=t, id_=f"n{i}", embedding=emb(i), metadata={"n": i})
             for i, t in enumerate(TEXTS)]
    dense = MilvusVectorStore(uri=server.uri, dim=8, collection_name="li_dense", overwrite=True)
    dense.add(nodes)
    r = dense.query(VectorStoreQuery(query_embedding=emb(2), similarity_top_k=2))
    assert r.nodes[0].text == TEXTS[2]
    r = dense.query(VectorStoreQuery(query_embedding=emb(2), similarity_top_k=3,
                                     filters=MetadataFilters(filters=[ExactMatchFilter(key="n", value=4)])))
    assert [n.text for n in r.nodes] == [TEXTS[4]]

    store = MilvusVectorStore(uri=server.uri, dim=8, collection_name="li_hybrid", overwrite=True,
                              enable_sparse=True, sparse_embedding_function=BM25BuiltInFunction(),
                              hybrid_ranker="RRFRanker", hybrid_ranker_params={"k": 60})
    store.add(nodes)
    r = store.query(VectorStoreQuery(query_str="vector database", similarity_top_k=3,
                                     mode=VectorStoreQueryMode.TEXT_SEARCH))
    assert {n.text for n in r.nodes} == {TEXTS[2], TEXTS[5]}
    r = store.query(VectorStoreQuery(query_str="grpc", similarity_top_k=3,
                                     mode=VectorStoreQueryMode.SPARSE))
    assert [n.text for n in r.nodes] == [TEXTS[3]]
    r = store.query(VectorStoreQuery(query_embedding=emb(4), query_str="bm25 search",
                                     similarity_top_k=2, mode=VectorStoreQueryMode.HYBRID))
    assert r.nodes[0].text == TEXTS[4]
    store.delete_nodes(node_ids=["n4"])
    r = store.query(VectorStoreQuery(query_str="bm25", similarity_top_k=3,
                                     mode=VectorStoreQueryMode.TEXT_SEARCH))
    assert r.nodes == []
