"""spacy_kd: distil big contextual text classifiers into compact spaCy students."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

ENTRY_POINTS = {
    "console_scripts": ["spacy-kd = spacy_kd.cli:app"],
    "spacy_readers": [
        "spacy-kd.TextCatCorpus.v1 = "
        "spacy_kd.data.readers:create_textcat_corpus_reader",
        "spacy-kd.DistillationCorpus.v1 = "
        "spacy_kd.distillation.corpus:create_distillation_corpus",
    ],
    "spacy_factories": [
        "kd_textcat = spacy_kd.distillation.student:make_kd_textcat",
        "kd_textcat_multilabel = "
        "spacy_kd.distillation.student:make_kd_textcat_multilabel",
        "kd_label_thresholds = spacy_kd.distillation.thresholds:make_label_thresholds",
        "kd_label_prior = spacy_kd.distillation.prior:make_label_prior",
    ],
    "spacy_callbacks": [
        "spacy-kd.distillation.v1 = "
        "spacy_kd.distillation.callbacks:create_distillation_callback",
        "spacy-kd.export_student.v1 = "
        "spacy_kd.distillation.callbacks:create_export_student_callback",
    ],
    "spacy_loggers": [
        "spacy-kd.ConsoleLogger.v1 = "
        "spacy_kd.distillation.loggers:create_console_logger",
    ],
    "spacy_span_getters": [
        "spacy-kd.strided_spans.v1 = "
        "spacy_kd.teachers.spans:configure_capped_strided_spans",
    ],
    "thinc_schedules": [
        "spacy-kd.linear.v1 = spacy_kd.distillation.callbacks:linear_schedule",
    ],
    "spacy_architectures": [
        "spacy-kd.ElmoTok2Vec.v1 = spacy_kd.elmo.tok2vec:build_elmo_tok2vec",
        "spacy-kd.TeacherClassifier.v1 = "
        "spacy_kd.teachers.architectures:build_teacher_classifier",
        "spacy-kd.FrozenTransformerFeatures.v1 = "
        "spacy_kd.teachers.architectures:build_frozen_transformer_features",
        "spacy-kd.FrozenTransformerFeatures.v2 = "
        "spacy_kd.teachers.architectures:build_frozen_transformer_features_v2",
        "spacy-kd.FrozenCached.v1 = spacy_kd.teachers.frozen:build_frozen_cached",
        "spacy-kd.TfidfNgrams.v1 = spacy_kd.teachers.tfidf:build_tfidf_ngrams",
        "spacy-kd.TfidfNgrams.v2 = spacy_kd.teachers.tfidf:build_tfidf_ngrams_v2",
        "spacy-kd.TfidfLinear.v1 = "
        "spacy_kd.distillation.architectures:build_tfidf_linear",
        "spacy-kd.VectorCNN.v1 = spacy_kd.distillation.architectures:build_vector_cnn",
        "spacy-kd.TfidfVectorCNN.v1 = "
        "spacy_kd.distillation.architectures:build_tfidf_vector_cnn",
        "spacy-kd.TfidfMeanVectors.v1 = "
        "spacy_kd.distillation.architectures:build_tfidf_mean_vectors",
        "spacy-kd.LowerStaticVectorsEmbed.v1 = "
        "spacy_kd.distillation.architectures:build_lower_static_vectors_embed",
        "spacy-kd.FrozenPooledTok2Vec.v1 = "
        "spacy_kd.teachers.pooled:build_frozen_pooled_tok2vec",
    ],
}

setup(
    name="spacy_kd",
    version="0.1.0",
    description=(
        "Knowledge distillation for spaCy text classifiers: ELMo and BERT teachers, "
        "pseudo-annotation and compact CNN students"
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=find_packages(include=["spacy_kd", "spacy_kd.*"]),
    include_package_data=True,
    install_requires=[
        "spacy>=3.8.0,<3.9.0",
        "spacy-transformers>=1.4.0,<1.5.0",
        "thinc>=8.3.0,<8.4.0",
        "torch>=2.0",
        "transformers<4.53.3",
        "typer>=0.9",
        "h5py>=3.0",
        "numpy",
        "srsly",
        "tqdm",
        "matplotlib",
    ],
    extras_require={
        # ruff pinned: `ruff format --check` in scripts/test.sh must not change
        # with releases
        "dev": [
            "pytest>=7",
            "pytest-xdist>=3.8",
            "ruff==0.17.6",
            "mypy",
            "hypothesis>=6",
        ],
        "plot": ["matplotlib"],
        # `annotate --engine ray`: one machine's cores or a cluster (CPU wheels only)
        "ray": ["ray==2.60.*"],
        # quantize = "int8" in a BERT teacher (`spacy_kd teacher-inference`):
        # onnxruntime's int8 kernels, and onnx for the export and quantization
        "int8": ["onnxruntime==1.31.*", "onnx>=1.16"],
    },
    entry_points=ENTRY_POINTS,
)
