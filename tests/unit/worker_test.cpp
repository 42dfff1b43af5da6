// The data plane's pure parts: envelope (the CloudEvents cases: cloudevents_test.cpp), wiring from
// the environment, step config, file names, the de-duplication log, dead-letter topics in the plan.

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "pkg/event/envelope.h"
#include "pkg/plan/topics.h"
#include "pkg/runtime/seen.h"
#include "pkg/runtime/wiring.h"
#include "pkg/workers/files.h"
#include "tests/support/suite_logs.h"

namespace pipewright {
namespace {

namespace fs = std::filesystem;

runtime::Getenv env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(Envelope, RoundTripsThroughKafkaAndRefusesWhatIsNotOne) {
  const auto e = event::make("pipewright.image.uploaded", "/pipewright/demo/images/upload",
                             {{"file", "a.jpg"}});
  const auto back = event::from_kafka(event::kafka_value(e), event::kafka_headers(e)).event;
  EXPECT_EQ(back.id, e.id);
  EXPECT_EQ(back.type, "pipewright.image.uploaded");
  EXPECT_EQ(back.data["file"], "a.jpg");
  EXPECT_EQ(e.time.size(), 24U) << e.time;  // 2026-11-23T09:00:00.000Z
  EXPECT_THROW(event::from_kafka("not json", {}), event::EnvelopeError);
  EXPECT_THROW(event::from_kafka("[1]", {}), event::EnvelopeError);
  try {
    event::from_kafka(R"({"id":"1","type":2,"time":"t","source":"s"})", {});
    FAIL();
  } catch (const event::EnvelopeError& ex) {
    EXPECT_NE(std::string(ex.what()).find("'type'"), std::string::npos) << ex.what();
  }
}

TEST(Envelope, IdsAreUniqueAndSortByTime) {
  std::set<std::string> ids;
  std::string previous;
  for (int i = 0; i < 2000; ++i) {
    const auto id = event::new_id();
    EXPECT_EQ(id.size(), 26U);
    EXPECT_TRUE(ids.insert(id).second) << "repeated " << id;
    EXPECT_GE(id.substr(0, 10), previous.substr(0, std::min<std::size_t>(10, previous.size())));
    previous = id;
  }
}

TEST(Wiring, ReadsThePlansEnvironment) {
  const auto w =
      runtime::wiring_from_env(env_of({{"PIPEWRIGHT_NAMESPACE", "demo"},
                                       {"PIPEWRIGHT_PIPELINE", "images"},
                                       {"PIPEWRIGHT_STEP", "rotate"},
                                       {"PIPEWRIGHT_KAFKA_BOOTSTRAP", "k:9092"},
                                       {"PIPEWRIGHT_INPUTS", "demo.images.images"},
                                       {"PIPEWRIGHT_INPUT_TOPICS", "images=demo.images.images"},
                                       {"PIPEWRIGHT_OUTPUTS", "notifications=demo.n"},
                                       {"PIPEWRIGHT_CONSUMER_GROUP", "g"},
                                       {"PIPEWRIGHT_MAX_ATTEMPTS", "3"},
                                       {"PIPEWRIGHT_BACKOFF_INITIAL", "50ms"},
                                       {"PIPEWRIGHT_BACKOFF_MAX", "2m"},
                                       {"PIPEWRIGHT_BASE_PATH", "/images/"}}));
  EXPECT_EQ(w.inputs, std::vector<std::string>{"demo.images.images"});
  EXPECT_EQ(w.input_topics, (std::map<std::string, std::string>{{"images", "demo.images.images"}}));
  EXPECT_EQ(w.output("notifications"), "demo.n");
  EXPECT_THROW((void)w.output("nope"), runtime::ConfigError);
  EXPECT_EQ(w.max_attempts, 3);
  EXPECT_EQ(w.backoff_initial, std::chrono::milliseconds(50));
  EXPECT_EQ(w.backoff_max, std::chrono::minutes(2));
  EXPECT_EQ(w.base_path, "/images");
  EXPECT_EQ(w.source(), "/pipewright/demo/images/rotate");
}

TEST(Wiring, NamesTheVariableThatIsWrong) {
  const auto message = [](std::map<std::string, std::string> vars) {
    try {
      runtime::wiring_from_env(env_of(std::move(vars)));
    } catch (const runtime::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({{"PIPEWRIGHT_MAX_ATTEMPTS", "zero"}}).find("PIPEWRIGHT_MAX_ATTEMPTS"),
            std::string::npos);
  EXPECT_NE(message({{"PIPEWRIGHT_BACKOFF_MAX", "soon"}}).find("PIPEWRIGHT_BACKOFF"),
            std::string::npos);
  EXPECT_NE(message({{"PIPEWRIGHT_OUTPUTS", "x"}}).find("PIPEWRIGHT_OUTPUTS"), std::string::npos);
  EXPECT_NE(message({{"PIPEWRIGHT_INPUT_TOPICS", "x"}}).find("PIPEWRIGHT_INPUT_TOPICS"),
            std::string::npos);
  EXPECT_NE(message({{"PIPEWRIGHT_INPUTS", "t"}, {"PIPEWRIGHT_KAFKA_BOOTSTRAP", "k"}})
                .find("PIPEWRIGHT_CONSUMER_GROUP"),
            std::string::npos);
  EXPECT_NE(message({{"PIPEWRIGHT_HTTP_PORT", "70000"}}).find("PIPEWRIGHT_HTTP_PORT"),
            std::string::npos);
}

TEST(StepConfig, UnknownKeysAndWrongTypesNameTheKey) {
  const auto config = nlohmann::json{{"maxBytes", "big"}, {"angel", 90}};
  try {
    runtime::check_keys(config, {"maxBytes", "angle"});
    FAIL();
  } catch (const runtime::ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "config.angel: unknown key (known: angle, maxBytes)");
  }
  EXPECT_THROW(runtime::config_int(config, "maxBytes", 1, 0, 10), runtime::ConfigError);
  EXPECT_EQ(runtime::config_int(config, "absent", 7, 0, 10), 7);
  EXPECT_THROW(runtime::config_int({{"n", 11}}, "n", 1, 0, 10), runtime::ConfigError);
  const auto dir = testing::suite_dir();
  std::ofstream(dir / "bad.json") << "{not json";
  EXPECT_THROW(runtime::load_config(dir / "bad.json"), runtime::ConfigError);
  EXPECT_TRUE(runtime::load_config(dir / "absent.json").empty());
}

TEST(FileNames, PathTricksNulAndShellCharactersAreRefused) {
  EXPECT_EQ(workers::clean_upload_name("perfil.jpg"), "perfil.jpg");
  EXPECT_EQ(workers::clean_upload_name("minha foto.png"), "minha_foto.png");
  EXPECT_EQ(workers::clean_upload_name("coração.jpg"), "coração.jpg");
  for (const std::string& bad : std::vector<std::string>{
           "", "../x.jpg", "a/b.jpg", "a\\b.jpg", std::string("a\0.jpg", 6), "x;ls.jpg",
           "$(id).jpg", "`id`.jpg", "a|b.jpg", "a>b.jpg", ".hidden.jpg", "-rf.jpg", "a..b.jpg",
           "tab\there.jpg", "\xff\xfe.jpg", std::string(181, 'a')}) {
    EXPECT_THROW(workers::clean_upload_name(bad), workers::NameError) << bad;
  }
  EXPECT_NO_THROW(workers::check_stored_name("perfil.rotated.jpg"));
  EXPECT_THROW(workers::check_stored_name("a b.jpg"), workers::NameError);
}

TEST(Files, UniqueNamesEvenForConcurrentWriters) {
  const auto dir = testing::suite_dir() / "unique";
  std::vector<std::thread> threads;
  std::vector<std::string> names(8);
  for (std::size_t i = 0; i < names.size(); ++i) {
    threads.emplace_back(
        [&, i] { names[i] = workers::write_unique(dir, "perfil", "jpg", std::to_string(i)); });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
  EXPECT_TRUE(std::count(names.begin(), names.end(), "perfil.jpg") == 1);
  for (std::size_t i = 0; i < names.size(); ++i)
    EXPECT_EQ(workers::read_file(dir / names[i]), std::to_string(i));
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir))
    ++entries;
  EXPECT_EQ(entries, names.size()) << "a temporary file was left behind";
}

// read_file reads the size fstat gives at once: every byte of an image (binary, NULs included),
// of an empty file and of one with no size (procfs), and a clear error for a missing one (the
// image steps retry it: the volume may lag).
TEST(Files, ReadFileReturnsEveryByteWhateverTheSize) {
  const auto dir = testing::suite_dir() / "read";
  fs::create_directories(dir);
  std::string image(300 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < image.size(); ++i)
    image[i] = static_cast<char>((i * 131) % 251);
  workers::write_atomic(dir / "photo.jpg", image);
  EXPECT_EQ(workers::read_file(dir / "photo.jpg"), image);
  workers::write_atomic(dir / "empty.jpg", "");
  EXPECT_EQ(workers::read_file(dir / "empty.jpg"), "");
  // st_size 0, tens of KiB read a page at a time: every read's bytes kept, to the last line.
  const auto maps = workers::read_file("/proc/self/smaps");
  ASSERT_GT(maps.size(), 8192u);
  EXPECT_EQ(maps.rfind("VmFlags:", maps.size() - 1), maps.rfind('\n', maps.size() - 2) + 1)
      << maps.substr(maps.size() - std::min<std::size_t>(maps.size(), 200));
  try {
    workers::read_file(dir / "missing.jpg");
    ADD_FAILURE() << "a missing file was read";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.jpg"), std::string::npos) << e.what();
  }
}

// The image workers' results: in place at once, durable by sync() (before the offset commit),
// and a sync that fails keeps its files pending, so the retried hook syncs them again rather
// than letting the commit through.
TEST(Files, BatchWriterSyncsEveryPendingFileAndKeepsThoseItCouldNot) {
  const auto dir = testing::suite_dir() / "batch";
  fs::create_directories(dir);
  workers::BatchWriter writer;
  for (int i = 0; i < 20; ++i)
    writer.write(dir / ("r" + std::to_string(i) + ".jpg"), "v1-" + std::to_string(i));
  writer.write(dir / "r0.jpg", "v2");  // replaced whole
  EXPECT_EQ(workers::read_file(dir / "r0.jpg"), "v2");
  EXPECT_EQ(workers::read_file(dir / "r19.jpg"), "v1-19");
  EXPECT_EQ(writer.pending(), 21u);
  writer.sync();
  EXPECT_EQ(writer.pending(), 0u);
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir))
    ++entries;
  EXPECT_EQ(entries, 20u) << "a temporary file was left behind";

  writer.write(dir / "gone.jpg", "x");
  fs::remove(dir / "gone.jpg");  // nothing left to make durable: not an error
  writer.sync();
  EXPECT_EQ(writer.pending(), 0u);

  if (::geteuid() != 0) {  // root opens any file: no failure to provoke
    writer.write(dir / "locked.jpg", "x");
    writer.write(dir / "fine.jpg", "y");
    fs::permissions(dir / "locked.jpg", fs::perms::none);
    EXPECT_THROW(writer.sync(), std::runtime_error);
    EXPECT_EQ(writer.pending(), 1u) << "the file that failed stays pending";
    fs::permissions(dir / "locked.jpg", fs::perms::owner_read | fs::perms::owner_write);
    writer.sync();
    EXPECT_EQ(writer.pending(), 0u);
  }
}

TEST(SeenLog, RemembersAcrossRestartsAndForgetsTheOldest) {
  const auto file = testing::suite_dir() / "seen" / "notify.sent";
  {
    runtime::SeenLog log(file, 3);
    log.add("a/smtp");
    log.add("b/smtp");
    EXPECT_TRUE(log.contains("a/smtp"));
  }
  runtime::SeenLog again(file, 3);
  EXPECT_TRUE(again.contains("a/smtp"));
  EXPECT_TRUE(again.contains("b/smtp"));
  EXPECT_FALSE(again.contains("c/smtp"));
  again.add("c/smtp");
  again.add("d/smtp");
  EXPECT_FALSE(again.contains("a/smtp"));  // only the newest 3
  EXPECT_TRUE(again.contains("d/smtp"));
}

// Issue 14, defect 8: a key holding '\n' was written as two lines (two keys after a restart,
// neither of them the one recorded), and write errors were ignored.
TEST(SeenLog, AKeyWithANewlineSurvivesARestartWhole) {
  const auto file = testing::suite_dir() / "seen-newline" / "notify.sent";
  const std::string key = "evil\nb/smtp\r%0A";
  {
    runtime::SeenLog log(file);
    log.add(key);
  }
  runtime::SeenLog again(file);
  EXPECT_TRUE(again.contains(key));
  EXPECT_FALSE(again.contains("b/smtp"));
  EXPECT_FALSE(again.contains("evil"));
}

TEST(SeenLog, AFailedWriteIsAnErrorNotSilence) {
  const auto file = testing::suite_dir() / "seen-full" / "notify.sent";
  runtime::SeenLog log(file);
  log.add("first/smtp");
  // The file may grow no further: the next write fails (EFBIG) as on a full disk.
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  getrlimit(RLIMIT_FSIZE, &old);
  rlimit small = old;
  small.rlim_cur = static_cast<rlim_t>(fs::file_size(file));
  setrlimit(RLIMIT_FSIZE, &small);
  bool threw = false;
  try {
    log.add(std::string(4096, 'x'));
  } catch (const std::runtime_error& e) {
    threw = std::string(e.what()).find("cannot record") != std::string::npos;
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_TRUE(threw);
  EXPECT_TRUE(log.contains(std::string(4096, 'x')));  // no second e-mail in this process
}

// Issue 14, defect 3: `validate` accepted durations the worker refused at start (exit 2); both
// apply pkg/units now. A worker refuses 10 digits, and 100,000 digits are refused, not a crash.
TEST(Wiring, DurationsFollowTheOneRuleAndLongValuesAreRefusedQuietly) {
  EXPECT_EQ(runtime::parse_duration("999999999ms").count(), 999999999);
  EXPECT_EQ(runtime::parse_duration("2h").count(), 7'200'000);
  for (const std::string& bad :
       {std::string("10000000000ms"), std::string(100000, '9') + "s", std::string("5"),
        std::string("ms"), std::string("-5s"), std::string("5 s"), std::string("5sec")}) {
    try {
      runtime::parse_duration(bad);
      ADD_FAILURE() << bad.substr(0, 40) << " was accepted";
    } catch (const runtime::ConfigError& e) {
      EXPECT_LT(std::string(e.what()).size(), 200u) << "the message quotes the value whole";
    }
  }
}

TEST(FileNames, SurrogatesAndOverlongFormsAreNotUtf8) {
  EXPECT_EQ(workers::clean_upload_name("\xf0\x9f\x93\xb7.jpg"), "\xf0\x9f\x93\xb7.jpg");  // U+1F4F7
  EXPECT_EQ(workers::clean_upload_name("\xed\x9f\xbf.jpg"), "\xed\x9f\xbf.jpg");          // U+D7FF
  for (const std::string& bad : {
           std::string("\xed\xa0\x80.jpg"),      // U+D800, a surrogate
           std::string("\xed\xbf\xbf.jpg"),      // U+DFFF
           std::string("\xe0\x80\xaf.jpg"),      // '/' overlong in three bytes
           std::string("\xf0\x80\x80\xaf.jpg"),  // '/' overlong in four
           std::string("\xc0\xaf.jpg"),          // '/' overlong in two
           std::string("\xf4\x90\x80\x80.jpg"),  // above U+10FFFF
       }) {
    EXPECT_THROW(workers::clean_upload_name(bad), workers::NameError) << bad;
  }
}

TEST(PlanTopics, ADeadLetterTopicForEveryTopicAStepWithDeadLettersReads) {
  api::Pipeline p;
  p.meta.name = "images";
  p.meta.namespace_ = "demo";
  p.topics = {{"images", "", 3, 1, {}, "Delete"},
              {"notifications", "", 3, 1, {}, "Retain"},
              {"unread", "", 1, 1, {}, "Retain"}};
  api::Step rotate;
  rotate.name = "rotate";
  rotate.inputs = {"images"};
  api::Step notify;
  notify.name = "notify";
  notify.inputs = {"notifications"};
  notify.delivery = api::Delivery{};
  notify.delivery->dead_letter = false;
  p.steps = {rotate, notify};
  const auto topics = plan::topics(p);
  ASSERT_EQ(topics.size(), 4U);
  EXPECT_EQ(topics[3].name, "demo.images.images.dlq");
  EXPECT_TRUE(topics[3].dead_letter);
  EXPECT_TRUE(topics[3].delete_with_pipeline);  // follows its source topic
  EXPECT_EQ(topics[3].partitions, 1);
}

}  // namespace
}  // namespace pipewright
