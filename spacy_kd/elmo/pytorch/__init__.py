"""Plain torch ``nn.Module``s of the ELMo biLM: character CNN, highway, LSTM with
projection, the biLM, the scalar mix, the embedder that runs it over docs, and the
language-model head used for pretraining. Import the modules directly; this package
imports nothing, so that importing it never loads torch by itself.
"""
