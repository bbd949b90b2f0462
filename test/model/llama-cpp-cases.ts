/** The token sequence llama.cpp's logits were recorded for (scripts/llama-cpp-model-logits.ts). */
export const LLAMA_CPP_TOKENS = [1, 300, 301, 302, 303, 304, 305, 306];
