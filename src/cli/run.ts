/** `plumbline run FILE.gguf`: generate text, printed as it comes, then prompt and generation tokens/s. */
import { generate } from '../model/generate.js';
import { topKIndices } from '../oracle/topk.js';
import { type Command, parseCommandArgs, UsageError } from './command.js';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP, modelArgs, openModel } from './model-args.js';

const HELP = `usage: plumbline run FILE.gguf (--prompt TEXT | --tokens 1,2,3) [options]

Loads a GGUF model (llama, qwen2, qwen3) and generates: the prompt is
processed in one pass (prefill), then one token per pass (decode) with the
KV cache, until an end-of-generation token or --max-tokens. The text is
printed as it is generated, then prompt and generation speeds.

options:
${MODEL_OPTIONS_HELP}
  --max-tokens N         tokens to generate at most (default 32)
  --temperature T        0 (default): greedy; > 0: sample (top-k, top-p, then temperature)
  --top-k K              keep the K most likely tokens (default 0: all)
  --top-p P              keep the most likely tokens up to probability P (default 1)
  --seed S               sampling seed (default 0)

--json prints {tokens, text, logits_last_top10, prompt_tokens_per_s,
gen_tokens_per_s} and more: tokens are the generated ids; logits_last_top10
the ten largest logits the last token was chosen from.`;

export const runCommand: Command = {
  name: 'run',
  summary: 'generate text with a GGUF model; tokens/s',
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...MODEL_OPTIONS,
      'max-tokens': { type: 'string', default: '32' },
      temperature: { type: 'string', default: '0' },
      'top-k': { type: 'string', default: '0' },
      'top-p': { type: 'string', default: '1' },
      seed: { type: 'string', default: '0' },
    });
    const a = modelArgs(positionals, values);
    const maxTokens = Number(values['max-tokens']);
    if (!Number.isSafeInteger(maxTokens) || maxTokens < 0)
      throw new UsageError(`--max-tokens must be an integer ≥ 0, got ${values['max-tokens']}`);
    const sampling = {
      temperature: Number(values.temperature),
      topK: Number(values['top-k']),
      topP: Number(values['top-p']),
      seed: Number(values.seed),
    };
    const { engine, model, tokens } = await openModel(a);
    try {
      const stream = model.tokenizer?.streamDecoder(false);
      const write = io.write ?? (() => {});
      const r = await generate(model, tokens, {
        maxTokens,
        ...sampling,
        onToken: (id) => {
          if (!a.json && stream) write(stream.push(id));
        },
      });
      const text = model.tokenizer?.decode(r.tokens) ?? '';
      const top10 = topKIndices(r.lastLogits, 10).map((id) => ({
        id,
        logit: r.lastLogits[id],
        ...(model.tokenizer ? { piece: model.tokenizer.tokenText(id) } : {}),
      }));
      if (a.json) {
        io.out(
          JSON.stringify(
            {
              tokens: r.tokens,
              text,
              logits_last_top10: top10,
              prompt_tokens_per_s: r.promptTokensPerS,
              gen_tokens_per_s: r.genTokensPerS,
              prompt_tokens: r.prompt,
              stop: r.stop,
              backend: engine.backend,
              threads: engine.threads,
              numerics: model.numerics,
            },
            null,
            2,
          ),
        );
      } else {
        if (stream) write(stream.flush());
        // Without a streaming sink the text comes at the end, whole.
        if (!io.write) io.out(text);
        else io.out('');
        io.out(
          `\nprompt: ${r.prompt.length} tokens, ${r.promptTokensPerS.toFixed(1)} tokens/s; ` +
            `generation: ${r.tokens.length} tokens, ${r.genTokensPerS.toFixed(1)} tokens/s ` +
            `(${r.stop}; ${engine.backend}, ${engine.threads} thread${engine.threads === 1 ? '' : 's'}, ${model.numerics} numerics)`,
        );
      }
      return 0;
    } finally {
      model.dispose();
      await engine.dispose();
    }
  },
};
