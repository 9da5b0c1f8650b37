// OpenAI's own SDK against `actionclip serve`: embeddings.create with baseURL pointed at it.
// Prints what the client decoded, as JSON, for the C++ test to check.
import OpenAI from "openai";

const [baseURL, apiKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: apiKey || "unused", maxRetries: 0 });

// The SDK asks for base64 unless told otherwise, and decodes it to floats itself.
const single = await client.embeddings.create({ model: "actionclip", input: "a person surfing" });
const batch = await client.embeddings.create({ model: "actionclip", input: ["a dog", "juggling"], encoding_format: "float" });
let refused = null;
try {
  await client.embeddings.create({ model: "actionclip", input: "x", dimensions: 3 });
} catch (error) {
  refused = { status: error.status, code: error.code, type: error.type };
}
const rows = (response) => response.data.map((item) => ({ index: item.index, embedding: Array.from(item.embedding) }));
console.log(JSON.stringify({
  single: { object: single.object, model: single.model, usage: single.usage, data: rows(single) },
  batch: { data: rows(batch) },
  refused,
}));
