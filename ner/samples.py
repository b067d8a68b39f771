"""Sample texts (written for this project) used by the app's examples, the benchmark and the tests."""
from __future__ import annotations

SEED = "张三在北京清华大学任职期间，曾赴上海参加国际人工智能大会。"

NEWS = ("新华社北京3月5日电 国务院总理李强5日在十四届全国人大二次会议上作政府工作报告。"
        "报告指出，今年将继续推进京津冀协同发展和长江经济带建设，支持香港、澳门更好融入国家发展大局。"
        "来自广东省的全国人大代表王建华表示，深圳和广州的科技企业对报告提出的新质生产力充满期待。")

REPORT = ("2023年，中国科学院与浙江大学联合成立了人工智能研究中心，中心主任由李明教授担任。"
          "研究中心位于杭州市西湖区，与阿里巴巴集团、华为技术有限公司开展了多项合作。"
          "同年十月，研究团队赴德国柏林参加学术会议，并与慕尼黑工业大学签署了合作备忘录。"
          "联合国教科文组织的专家对该中心的工作给予了高度评价。"
          "此外，中心还与复旦大学、南京大学以及武汉大学的研究人员共同发表了论文。")

POST = ("今天和小王一起去了成都的宽窄巷子🥳，人超级多！晚上在春熙路吃火锅，"
        "听说周杰伦下个月要来成都开演唱会，好想去啊～ #成都美食# @四川日报")

MIXED = ("Apple公司CEO蒂姆·库克（Tim Cook）于2024年6月访问上海，会见了上海市市长龚正，"
         "并参观了位于浦东新区的Apple Store旗舰店。iPhone 15在中国市场销量同比增长12%。")

EXAMPLES = [SEED, NEWS, REPORT, POST, MIXED]


# The page's examples: sentences of the probe file (ner/bench/probes.jsonl, kind "page") that the shipped
# model gets exactly right (tests/test_probes.py checks both), chosen for the page's five example slots.
PAGE_NEWS = (
    "外交部发言人毛宁在例行记者会上回答了有关提问。"
    "中国气象局发布暴雨橙色预警，福建、江西部分地区将有大暴雨。"
    "欧盟委员会主席冯德莱恩抵达北京，开始为期两天的访问。"
    "世界卫生组织总干事谭德塞在日内瓦召开新闻发布会。"
    "巴黎奥运会上，郑钦文为中国队夺得网球女单金牌。"
)
PAGE_REPORT = (
    "比亚迪和宁德时代签下了新一轮电池供货协议。"
    "大疆创新总部位于深圳南山区。"
    "字节跳动今年在新加坡扩招了上千名工程师。"
    "拼多多旗下的跨境电商平台Temu在美国增长迅速。"
    "杭州网易办公室搬到了滨江区。"
    "鸿海集团董事长刘扬伟出席了论坛。"
    "网易和腾讯同时发布了新一季财报。"
)
PAGE_POST = (
    "刚下飞机到了重庆，洪崖洞的夜景真的绝了！！"
    "跟阿强约好周六去西湖边骑车，有人一起吗？"
    "☕在星巴克等周杰伦的新歌首播🎵"
    "小张说她下个月要去大理，羡慕死了"
)
PAGE_MIXED = (
    "OpenAI首席执行官Sam Altman访问了东京。"
    "Nvidia的市值一度超过了Microsoft。"
    "Tesla和BYD在欧洲市场的份额差距越来越小。"
    "AMD和Intel在CPU市场的份额此消彼长。"
    "Jay Chou的新专辑在网易云音乐上线不到一小时就卖了一百万张。"
)
PAGE_EXAMPLES = [SEED, PAGE_NEWS, PAGE_REPORT, PAGE_POST, PAGE_MIXED]


def text_of_length(n: int) -> str:
    """About ``n`` characters of realistic text, cut at a sentence end when possible."""
    base = NEWS + REPORT + POST + MIXED
    text = (base * (n // len(base) + 1))[:n]
    return text
