#include <gtest/gtest.h>

#include <string>

#include "pkg/json/limited.h"

namespace pipewright::json {
namespace {

std::string nested(int depth) {
  return std::string(static_cast<std::size_t>(depth), '[') +
         std::string(static_cast<std::size_t>(depth), ']');
}

TEST(LimitedJson, ParsesOrdinaryDocuments) {
  const auto j = parse(R"({"id":"a","data":{"items":[{"sku":"x","qty":2}],"n":-1.5,"ok":true}})");
  EXPECT_EQ(j["data"]["items"][0]["qty"], 2);
  EXPECT_EQ(j["data"]["n"], -1.5);
  EXPECT_EQ(parse("3"), 3);
  EXPECT_EQ(parse(nested(kMaxDepth)).dump(), nested(kMaxDepth));
}

TEST(LimitedJson, RefusesNestingBeyondTheLimitWithoutOverflowingTheStack) {
  try {
    parse(nested(kMaxDepth + 1));
    FAIL() << "accepted";
  } catch (const ParseError& e) {
    EXPECT_EQ(e.code, ParseError::Code::TooDeep);
    EXPECT_NE(std::string(e.what()).find("deeper than 64"), std::string::npos);
  }
  // 100,000 levels (the reported crash): refused while reading, no recursion anywhere.
  const std::string deep = R"({"payload":{"a":)" + nested(100000) + "}}";
  std::string why;
  EXPECT_FALSE(try_parse(deep, &why));
  EXPECT_NE(why.find("deeper"), std::string::npos);
  std::string objects;
  for (int i = 0; i < 100000; ++i)
    objects += R"({"a":)";
  EXPECT_FALSE(try_parse(objects));
}

TEST(LimitedJson, MalformedTextIsAnErrorNamingIt) {
  for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "nul", "{\"a\":1}x", "\"\\ud800\""}) {
    try {
      parse(bad);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const ParseError& e) {
      EXPECT_EQ(e.code, ParseError::Code::Malformed) << bad;
      EXPECT_FALSE(std::string(e.what()).empty());
    }
  }
  EXPECT_EQ(parse(std::string(" {\"a\" : [1, 2]} \n"))["a"][1], 2);
}

}  // namespace
}  // namespace pipewright::json
