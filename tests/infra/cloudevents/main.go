// Command ce-go is a CloudEvents client built only from the official Go SDK
// (github.com/cloudevents/sdk-go/v2) and its Kafka binding (protocol/kafka_sarama/v2, on the
// pure-Go sarama client): the tests use it to check that what a Pipeline writes is CloudEvents
// to an independent implementation, and that what such an implementation writes flows through.
//
//	ce-go read   -bootstrap H:P -topic T            every message now in T, one JSON line each
//	ce-go write  -bootstrap H:P -topic T -mode binary|structured -key K -id I -source S -type T -data JSON
//	ce-go post   -url U -mode binary|structured -id I -source S -type T -data JSON
//	ce-go receive -port-file F -count N [-timeout 60s]   an SDK HTTP receiver on 127.0.0.1
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/cloudevents/sdk-go/protocol/kafka_sarama/v2"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ce-go: "+format+"\n", args...)
	os.Exit(1)
}

func saramaConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V3_0_0_0
	c.ClientID = "ce-go"
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Return.Successes = true
	c.Consumer.Return.Errors = true
	return c
}

// One consumed message as the SDK saw it.
type readLine struct {
	Topic     string          `json:"topic"`
	Partition int32           `json:"partition"`
	Offset    int64           `json:"offset"`
	Key       string          `json:"key"`
	Mode      string          `json:"mode"`
	Event     json.RawMessage `json:"event,omitempty"`
	Error     string          `json:"error,omitempty"`
}

func encodingName(e binding.Encoding) string {
	switch e {
	case binding.EncodingBinary:
		return "binary"
	case binding.EncodingStructured:
		return "structured"
	default:
		return "unknown"
	}
}

// read prints every message in the topic up to its end when read starts.
func read(args []string) {
	fs := flag.NewFlagSet("read", flag.ExitOnError)
	bootstrap := fs.String("bootstrap", "", "Kafka bootstrap servers")
	topic := fs.String("topic", "", "topic to read")
	_ = fs.Parse(args)
	client, err := sarama.NewClient(strings.Split(*bootstrap, ","), saramaConfig())
	if err != nil {
		fail("client: %v", err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		fail("consumer: %v", err)
	}
	defer consumer.Close()
	partitions, err := client.Partitions(*topic)
	if err != nil {
		fail("partitions of %s: %v", *topic, err)
	}
	out := json.NewEncoder(os.Stdout)
	for _, p := range partitions {
		end, err := client.GetOffset(*topic, p, sarama.OffsetNewest)
		if err != nil {
			fail("end of %s/%d: %v", *topic, p, err)
		}
		start, err := client.GetOffset(*topic, p, sarama.OffsetOldest)
		if err != nil {
			fail("start of %s/%d: %v", *topic, p, err)
		}
		if end <= start {
			continue
		}
		pc, err := consumer.ConsumePartition(*topic, p, start)
		if err != nil {
			fail("consume %s/%d: %v", *topic, p, err)
		}
		deadline := time.After(60 * time.Second)
		for done := false; !done; {
			select {
			case m := <-pc.Messages():
				line := readLine{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: string(m.Key)}
				msg := kafka_sarama.NewMessageFromConsumerMessage(m)
				line.Mode = encodingName(msg.ReadEncoding())
				e, err := binding.ToEvent(context.Background(), msg)
				if err == nil {
					err = e.Validate()
				}
				if err != nil {
					line.Error = err.Error()
				} else {
					b, _ := json.Marshal(e)
					line.Event = b
				}
				_ = out.Encode(line)
				done = m.Offset >= end-1
			case err := <-pc.Errors():
				fail("consume %s/%d: %v", *topic, p, err)
			case <-deadline:
				fail("timed out reading %s/%d up to offset %d", *topic, p, end)
			}
		}
		pc.Close()
	}
}

type eventFlags struct {
	mode, id, source, typ, data, subject *string
}

func addEventFlags(fs *flag.FlagSet) eventFlags {
	return eventFlags{
		mode:    fs.String("mode", "binary", "binary or structured"),
		id:      fs.String("id", "", "event id"),
		source:  fs.String("source", "/ce-go", "event source"),
		typ:     fs.String("type", "", "event type"),
		data:    fs.String("data", "{}", "event data (JSON)"),
		subject: fs.String("subject", "", "optional subject"),
	}
}

func (f eventFlags) event() event.Event {
	e := cloudevents.NewEvent()
	e.SetID(*f.id)
	e.SetSource(*f.source)
	e.SetType(*f.typ)
	e.SetTime(time.Now())
	if *f.subject != "" {
		e.SetSubject(*f.subject)
	}
	if err := e.SetData(cloudevents.ApplicationJSON, json.RawMessage(*f.data)); err != nil {
		fail("data: %v", err)
	}
	if err := e.Validate(); err != nil {
		fail("event: %v", err)
	}
	return e
}

func (f eventFlags) context() context.Context {
	switch *f.mode {
	case "binary":
		return binding.WithForceBinary(context.Background())
	case "structured":
		return binding.WithForceStructured(context.Background())
	}
	fail("mode %q: binary or structured", *f.mode)
	return nil
}

func write(args []string) {
	fs := flag.NewFlagSet("write", flag.ExitOnError)
	bootstrap := fs.String("bootstrap", "", "Kafka bootstrap servers")
	topic := fs.String("topic", "", "topic to write")
	key := fs.String("key", "", "message key")
	ef := addEventFlags(fs)
	_ = fs.Parse(args)
	e := ef.event()
	producer, err := sarama.NewSyncProducer(strings.Split(*bootstrap, ","), saramaConfig())
	if err != nil {
		fail("producer: %v", err)
	}
	defer producer.Close()
	pm := &sarama.ProducerMessage{Topic: *topic}
	if *key != "" {
		pm.Key = sarama.StringEncoder(*key)
	}
	if err := kafka_sarama.WriteProducerMessage(ef.context(), (*binding.EventMessage)(&e), pm); err != nil {
		fail("encode: %v", err)
	}
	if _, _, err := producer.SendMessage(pm); err != nil {
		fail("send: %v", err)
	}
}

// post sends one event with the SDK's HTTP binding and prints {"status", "body"}.
func post(args []string) {
	fs := flag.NewFlagSet("post", flag.ExitOnError)
	url := fs.String("url", "", "where to POST")
	ef := addEventFlags(fs)
	_ = fs.Parse(args)
	e := ef.event()
	ctx := ef.context()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *url, nil)
	if err != nil {
		fail("request: %v", err)
	}
	if err := cehttp.WriteRequest(ctx, (*binding.EventMessage)(&e), req); err != nil {
		fail("encode: %v", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fail("POST %s: %v", *url, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"status": res.StatusCode, "body": string(body)})
}

// receive serves the SDK's HTTP receiver and prints each event it accepts, until -count.
func receive(args []string) {
	fs := flag.NewFlagSet("receive", flag.ExitOnError)
	portFile := fs.String("port-file", "", "file to write the listening port to")
	count := fs.Int("count", 1, "events to receive before exiting")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after")
	_ = fs.Parse(args)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen: %v", err)
	}
	p, err := cehttp.New(cehttp.WithListener(l))
	if err != nil {
		fail("protocol: %v", err)
	}
	client, err := cloudevents.NewClient(p)
	if err != nil {
		fail("client: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := os.WriteFile(*portFile+".tmp", []byte(fmt.Sprint(port)), 0o644); err != nil {
		fail("port file: %v", err)
	}
	if err := os.Rename(*portFile+".tmp", *portFile); err != nil {
		fail("port file: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var mu sync.Mutex
	seen := 0
	out := json.NewEncoder(os.Stdout)
	err = client.StartReceiver(ctx, func(e event.Event) {
		mu.Lock()
		defer mu.Unlock()
		b, _ := json.Marshal(e)
		_ = out.Encode(json.RawMessage(bytes.TrimSpace(b)))
		seen++
		if seen >= *count {
			cancel()
		}
	})
	if err != nil && ctx.Err() == nil {
		fail("receiver: %v", err)
	}
	if seen < *count {
		fail("received %d of %d events before the timeout", seen, *count)
	}
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" {
		fmt.Println("usage: ce-go read|write|post|receive [flags]  (ce-go CMD -h for its flags)")
		return
	}
	switch os.Args[1] {
	case "read":
		read(os.Args[2:])
	case "write":
		write(os.Args[2:])
	case "post":
		post(os.Args[2:])
	case "receive":
		receive(os.Args[2:])
	default:
		fail("unknown command %q", os.Args[1])
	}
}
