// openai_client.mjs - the official OpenAI Node client (openai@4), unchanged,
// pointed at the gateway: a plain completion, a stream, a crisis message in
// both forms, a blocked stream, and an error. Prints one JSON object with
// what it saw; test_gateway_openai_node.sh asserts on it.
import OpenAI from "openai";

const [baseURL, apiKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 20000 });
const out = {};

async function collect(stream) {
  let text = "";
  let finish = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      text += c.delta?.content ?? "";
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  return { text, finish };
}

const imminent =
  "I have the pills in my hand and I am going to swallow all of them tonight to kill myself.";

// plain
const plain = await client.chat.completions.create({
  model: "test-model",
  messages: [{ role: "user", content: "Say hello" }],
});
out.plain = { text: plain.choices[0].message.content, finish: plain.choices[0].finish_reason,
              object: plain.object };

// with raw response: headers are visible to the app
const { data, response } = await client.chat.completions
  .create({ model: "test-model", messages: [{ role: "user", content: imminent }] })
  .withResponse();
out.crisis = { text: data.choices[0].message.content,
               action: response.headers.get("x-mhguard-action"),
               risk: response.headers.get("x-mhguard-risk") };

// stream
out.stream = await collect(await client.chat.completions.create({
  model: "test-model", stream: true,
  messages: [{ role: "user", content: "Tell me something nice" }],
}));

// crisis as a stream
out.crisisStream = await collect(await client.chat.completions.create({
  model: "test-model", stream: true, messages: [{ role: "user", content: imminent }],
}));

// unsafe reply blocked mid-stream
out.blockedStream = await collect(await client.chat.completions.create({
  model: "test-model", stream: true,
  messages: [{ role: "user", content: "Plan my week [[reply:unsafe-late]]" }],
}));

// models
const models = await client.models.list();
out.models = models.data.map((m) => m.id);

// an error surfaces as the client's usual exception
try {
  await client.chat.completions.create({ model: "test-model", messages: [] });
  out.error = { thrown: false };
} catch (e) {
  out.error = { thrown: true, status: e.status, code: e.code ?? e.error?.code ?? null };
}

console.log(JSON.stringify(out));
